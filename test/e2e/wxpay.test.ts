import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PayError } from '../../src/core/errors.ts';
import { backends } from '../support/backends.ts';
import {
  codeOf,
  eventually,
  MERCHANT,
  startWxpayHarness,
  tradeNumbers,
  type WxpayHarness,
} from './harness.ts';

const tradeNo = tradeNumbers('WX');

describe.each(backends)('WeChat Pay end to end on $name', (backend) => {
  let h: WxpayHarness;
  const handled: string[] = [];

  beforeAll(async () => {
    h = await startWxpayHarness(backend);
    h.vkPay.onPaid('goods', ({ order }) => {
      handled.push(order.outTradeNo);
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  const order = (no: string) => h.vkPay.getOrder(MERCHANT, no);
  const storedStatus = async (no: string) =>
    (
      await h.vkPay.store.db
        .selectFrom('payment_orders')
        .select('status')
        .where('out_trade_no', '=', no)
        .executeTakeFirstOrThrow()
    ).status;
  const pay = (no: string, scene: 'native' | 'jsapi' = 'native', totalFee = 1000) =>
    h.vkPay.pay({
      merchantId: MERCHANT,
      provider: 'wxpay',
      scene,
      out_trade_no: no,
      total_fee: totalFee,
      subject: '测试商品',
      type: 'goods',
      ...(scene === 'jsapi' ? { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' } : {}),
    });

  it('a Native payment paid on the emulator reaches SUCCESS through the callback', async () => {
    const no = tradeNo();
    const { client, order: created } = await pay(no);
    expect(created.status).toBe('NOTPAY');
    expect(client).toMatchObject({ scene: 'native', codeUrl: expect.stringMatching(/^weixin:\/\//) });
    expect((await h.control('POST', `/trades/${h.mchId}/${no}/pay`)).status).toBe(200);
    const paid = await eventually(
      () => storedStatus(no),
      (s) => s === 'SUCCESS',
    );
    expect(paid).toBe('SUCCESS');
    expect(await order(no)).toMatchObject({
      status: 'SUCCESS',
      userOrderSuccess: true,
      transactionId: expect.any(String),
    });
    expect(handled.filter((n) => n === no)).toHaveLength(1);
    const events = await h.vkPay.store.db
      .selectFrom('payment_notify_events')
      .selectAll()
      .where('out_trade_no', '=', no)
      .execute();
    expect(events).toHaveLength(1);
    const logs = await h.vkPay.store.db
      .selectFrom('payment_logs')
      .select(['type', 'status', 'response_ms'])
      .where('out_trade_no', '=', no)
      .execute();
    expect(logs.map((l) => l.type)).toEqual(expect.arrayContaining(['create', 'apply_notify']));
    expect(logs.every((l) => typeof l.response_ms === 'number')).toBe(true);
  });

  it('a JSAPI payment returns signed client parameters and reaches SUCCESS', async () => {
    const no = tradeNo();
    const { client } = await pay(no, 'jsapi');
    expect(client).toMatchObject({
      scene: 'jsapi',
      appId: h.appId,
      signType: 'RSA',
      package: expect.stringMatching(/^prepay_id=/),
    });
    await h.control('POST', `/trades/${h.mchId}/${no}/pay`, { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' });
    expect(
      await eventually(
        () => storedStatus(no),
        (s) => s === 'SUCCESS',
      ),
    ).toBe('SUCCESS');
  });

  it('runs the handler once under duplicated and reordered notifications', async () => {
    const no = tradeNo();
    await pay(no);
    await h.control('POST', '/faults', {
      channel: 'notify',
      kind: 'duplicate',
      mchid: h.mchId,
      outTradeNo: no,
      times: 3,
    });
    await h.control('POST', `/trades/${h.mchId}/${no}/pay`);
    await eventually(
      () => storedStatus(no),
      (s) => s === 'SUCCESS',
    );
    const deliveries = await eventually(
      async () =>
        (
          (await h.control('GET', `/notifications?mchid=${h.mchId}&out_trade_no=${no}`)).json as Array<{
            attempts: unknown[];
          }>
        ).reduce((sum, record) => sum + record.attempts.length, 0),
      (count) => count >= 2,
    );
    expect(deliveries).toBeGreaterThanOrEqual(2);

    // The first order's notification is held back until the second one's has gone out.
    const [early, late] = [tradeNo(), tradeNo()];
    await pay(early);
    await pay(late);
    await h.control('POST', '/faults', {
      channel: 'notify',
      kind: 'reorder',
      mchid: h.mchId,
      outTradeNo: early,
      delayMs: 2000,
    });
    await h.control('POST', `/trades/${h.mchId}/${early}/pay`);
    await h.control('POST', `/trades/${h.mchId}/${late}/pay`);
    await eventually(
      () => storedStatus(early),
      (s) => s === 'SUCCESS',
    );
    expect(await storedStatus(late)).toBe('SUCCESS');
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const n of [no, early, late]) expect(handled.filter((x) => x === n)).toHaveLength(1);
  });

  it('a dropped notification heals through query', async () => {
    const no = tradeNo();
    await pay(no);
    await h.control('POST', '/faults', {
      channel: 'notify',
      kind: 'drop',
      mchid: h.mchId,
      outTradeNo: no,
      times: 'always',
    });
    await h.control('POST', `/trades/${h.mchId}/${no}/pay`);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await storedStatus(no)).toBe('NOTPAY');
    const answer = await h.vkPay.queryPayment(MERCHANT, no);
    expect(answer).toMatchObject({ orderPaid: true, userOrderSuccess: true, order: { status: 'SUCCESS' } });
    expect(handled.filter((n) => n === no)).toHaveLength(1);
    await h.control('DELETE', '/faults');
  });

  it('partial refunds complete through refund notifications', async () => {
    const no = tradeNo();
    await pay(no, 'native', 1000);
    await h.control('POST', `/trades/${h.mchId}/${no}/pay`);
    await eventually(
      () => storedStatus(no),
      (s) => s === 'SUCCESS',
    );

    const first = await h.vkPay.refund({
      merchantId: MERCHANT,
      out_trade_no: no,
      out_refund_no: `${no}R1`,
      refund_fee: 300,
    });
    expect(first.refund.status).toBe('PROCESSING');
    await h.control('POST', `/refunds/${h.mchId}/${no}R1/succeed`);
    await eventually(
      () => order(no),
      (o) => o.refundedFen === 300,
    );
    expect(await order(no)).toMatchObject({ status: 'PARTIAL_REFUNDED', refundedFen: 300 });

    // The same out_refund_no again is the same refund, not a second one.
    const again = await h.vkPay.refund({
      merchantId: MERCHANT,
      out_trade_no: no,
      out_refund_no: `${no}R1`,
      refund_fee: 300,
    });
    expect(again.refund.status).toBe('SUCCESS');

    // WeChat wants a minute between refunds of one order: refused for frequency, the refund keeps its
    // amount reserved (PROCESSING, not refused), and the same number goes through once it has passed.
    const second = { merchantId: MERCHANT, out_trade_no: no, out_refund_no: `${no}R2`, refund_fee: 700 };
    expect(await codeOf(h.vkPay.refund(second))).toBe(40008);
    expect((await h.vkPay.listRefunds(MERCHANT, no)).find((r) => r.outRefundNo === `${no}R2`)?.status).toBe(
      'PROCESSING',
    );
    await h.control('POST', '/clock', { offsetMs: 61_000 });
    try {
      expect((await h.vkPay.refund(second)).refund.status).toBe('PROCESSING');
    } finally {
      await h.control('POST', '/clock', { offsetMs: 0 });
    }
    await h.control('POST', `/refunds/${h.mchId}/${no}R2/succeed`);
    const done = await eventually(
      () => order(no),
      (o) => o.status === 'REFUNDED',
    );
    expect(done).toMatchObject({ status: 'REFUNDED', refundedFen: 1000 });
    expect(
      await codeOf(
        h.vkPay.refund({ merchantId: MERCHANT, out_trade_no: no, out_refund_no: `${no}R3`, refund_fee: 1 }),
      ),
    ).toBe(40001);
  });

  it('a refund refused for the merchant balance frees its amount and goes through on a retry with the same number', async () => {
    const no = tradeNo();
    await pay(no, 'native', 1000);
    await h.control('POST', `/trades/${h.mchId}/${no}/pay`);
    await eventually(
      () => storedStatus(no),
      (s) => s === 'SUCCESS',
    );
    await h.control('POST', '/faults', { kind: 'notEnough', operation: 'refund', outTradeNo: no });
    const ask = () =>
      h.vkPay.refund({ merchantId: MERCHANT, out_trade_no: no, out_refund_no: `${no}R1`, refund_fee: 1000 });

    expect(await codeOf(ask())).toBe(40007);
    expect(await h.vkPay.listRefunds(MERCHANT, no)).toMatchObject([
      { outRefundNo: `${no}R1`, status: 'REFUSED', refundFen: 1000 },
    ]);
    expect(await order(no)).toMatchObject({ status: 'SUCCESS', refundedFen: 0 });

    // After a top-up the merchant asks again with the same out_refund_no: reserved again, sent again.
    const retried = await ask();
    expect(retried.refund).toMatchObject({ outRefundNo: `${no}R1`, status: 'PROCESSING' });
    await h.control('POST', `/refunds/${h.mchId}/${no}R1/succeed`);
    const done = await eventually(
      () => order(no),
      (o) => o.status === 'REFUNDED',
    );
    expect(done).toMatchObject({ status: 'REFUNDED', refundedFen: 1000 });
    expect(await h.vkPay.listRefunds(MERCHANT, no)).toMatchObject([{ status: 'SUCCESS', refundFen: 1000 }]);
    // Once paid back, the same number is the same refund again: nothing more moves.
    expect((await ask()).refund.status).toBe('SUCCESS');
  });

  it('closes an unpaid order at the gateway, and it can no longer be paid', async () => {
    const no = tradeNo();
    await pay(no);
    const closed = await h.vkPay.closePayment(MERCHANT, no);
    expect(closed.status).toBe('CLOSED');
    const attempt = await h.control('POST', `/trades/${h.mchId}/${no}/pay`);
    expect(attempt.status).toBeGreaterThanOrEqual(400);
    expect(await storedStatus(no)).toBe('CLOSED');
  });

  it('maps every injected fault to its unified code and leaves no order in a wrong state', async () => {
    const cases: Array<{ kind: string; code: number; extra?: Record<string, unknown> }> = [
      { kind: 'frequencyLimited', code: 40008, extra: { times: 'always' } },
      { kind: 'systemError', code: 40010, extra: { times: 'always' } },
      { kind: 'signTest', code: 40002 },
      { kind: 'staleTimestamp', code: 40002 },
      { kind: 'unknownSerial', code: 40003 },
    ];
    for (const { kind, code, extra } of cases) {
      const no = tradeNo();
      await h.control('POST', '/faults', { kind, mchid: h.mchId, operation: 'prepay', ...extra });
      expect({ kind, code: await codeOf(pay(no)) }).toEqual({ kind, code });
      await h.control('DELETE', '/faults');
      expect(await storedStatus(no)).toBe('NOTPAY');
      const errors = await h.vkPay.store.db
        .selectFrom('payment_errors')
        .select('code')
        .where('out_trade_no', '=', no)
        .execute();
      expect(errors.map((e) => e.code)).toContain(code);
    }
  });

  it('a write that times out is reported as outcome unknown, and the query settles it', async () => {
    const no = tradeNo();
    await h.control('POST', '/faults', {
      kind: 'hang',
      mchid: h.mchId,
      operation: 'prepay',
      afterHandling: true,
    });
    const error = await pay(no).then(
      () => undefined,
      (e: unknown) => e as PayError,
    );
    expect(error).toMatchObject({ code: 40004, outcomeUnknown: true });
    expect(await storedStatus(no)).toBe('NOTPAY');
    await h.control('DELETE', '/faults');
    await h.control('POST', `/trades/${h.mchId}/${no}/pay`);
    const answer = await h.vkPay.queryPayment(MERCHANT, no);
    expect(answer.orderPaid).toBe(true);
  });

  it('refuses a forged notification and leaves the order unpaid', async () => {
    const no = tradeNo();
    await pay(no);
    const forged = await fetch(`${h.vkPay.context.publicUrl}/notify/wxpay/${MERCHANT}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'wechatpay-timestamp': String(Math.floor(Date.now() / 1000)),
        'wechatpay-nonce': 'n'.repeat(32),
        'wechatpay-serial': 'PUB_KEY_ID_0000',
        'wechatpay-signature': Buffer.alloc(256).toString('base64'),
      },
      body: JSON.stringify({ id: 'x', event_type: 'TRANSACTION.SUCCESS', resource: {} }),
    });
    expect(forged.status).toBeGreaterThanOrEqual(400);
    expect(forged.status).toBeLessThan(600);
    expect(await storedStatus(no)).toBe('NOTPAY');
    // Rejected unapplied: an error row for the operators, no payment event for the error rate.
    const rows = await sql<{
      logs: number;
      errors: number;
    }>`select (select count(*)::int from payment_logs where type = 'notify' and status = 'ERROR') as logs,
         (select count(*)::int from payment_errors where provider = 'wxpay' and code in (40002, 40003)) as errors`.execute(
      h.vkPay.store.db,
    );
    expect(rows.rows[0]!.logs).toBe(0);
    expect(rows.rows[0]!.errors).toBeGreaterThan(0);
  });
});
