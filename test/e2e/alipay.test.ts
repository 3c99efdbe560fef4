import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scene } from '../../src/core/validate.ts';
import { backends } from '../support/backends.ts';
import {
  codeOf,
  eventually,
  MERCHANT,
  startWxpayHarness,
  tradeNumbers,
  type WxpayHarness,
} from './harness.ts';

const tradeNo = tradeNumbers('AL');

describe.each(backends)('Alipay end to end on $name', (backend) => {
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

  const ali = () => h.alipay;
  const storedStatus = async (no: string) =>
    (
      await h.vkPay.store.db
        .selectFrom('payment_orders')
        .select('status')
        .where('out_trade_no', '=', no)
        .executeTakeFirstOrThrow()
    ).status;
  const pay = (no: string, scene: Scene, totalFee = 8880) =>
    h.vkPay.pay({
      merchantId: MERCHANT,
      provider: 'alipay',
      scene,
      out_trade_no: no,
      total_fee: totalFee,
      subject: '支付宝测试',
      type: 'goods',
      returnUrl: 'http://127.0.0.1/return',
    });
  /** The buyer pays on the emulator; the notification must carry the order to SUCCESS. */
  const buyerPays = async (no: string) => {
    const paid = await ali().control('POST', `/trades/${ali().appId}/${no}/pay`);
    expect(paid.status).toBe(200);
    expect(
      await eventually(
        () => storedStatus(no),
        (s) => s === 'SUCCESS',
      ),
    ).toBe('SUCCESS');
  };

  it('a precreated QR payment reaches SUCCESS through the notification', async () => {
    const no = tradeNo();
    const { client } = await pay(no, 'native');
    expect(client).toMatchObject({ scene: 'native', codeUrl: expect.stringContaining('/qr/') });
    await (await fetch((client as { codeUrl: string }).codeUrl)).text(); // the buyer scans: the QR page opens
    await buyerPays(no);
    expect(await h.vkPay.getOrder(MERCHANT, no)).toMatchObject({
      status: 'SUCCESS',
      totalFen: 8880,
      transactionId: expect.any(String),
    });
    expect(handled.filter((n) => n === no)).toHaveLength(1);
  });

  it('page and wap payments reach SUCCESS once the browser opens the cashier', async () => {
    for (const scene of ['pc', 'h5'] as const) {
      const no = tradeNo();
      const { client } = await pay(no, scene);
      const payUrl = (client as { payUrl: string }).payUrl;
      expect(payUrl).toContain('gateway.do');
      const cashier = await fetch(payUrl);
      expect(cashier.status).toBe(200);
      expect(await cashier.text()).toContain('<');
      await buyerPays(no);
    }
  });

  it('an app order string is opened by the "Alipay app" and paid', async () => {
    const no = tradeNo();
    const { client } = await pay(no, 'app');
    const orderString = (client as { orderString: string }).orderString;
    expect(orderString).toContain('sign=');
    expect((await ali().control('POST', '/app-orders', { orderString })).status).toBe(200);
    await buyerPays(no);
  });

  it('runs the handler once under duplicated and reordered notifications, and heals a dropped one', async () => {
    const dup = tradeNo();
    await pay(dup, 'native');
    await ali().control('POST', '/faults', {
      channel: 'notify',
      kind: 'duplicate',
      appId: ali().appId,
      outTradeNo: dup,
      times: 3,
    });
    await ali().control('POST', `/trades/${ali().appId}/${dup}/scan`);
    await buyerPays(dup);

    const [early, late] = [tradeNo(), tradeNo()];
    for (const no of [early, late]) {
      await pay(no, 'native');
      await ali().control('POST', `/trades/${ali().appId}/${no}/scan`);
    }
    await ali().control('POST', '/faults', {
      channel: 'notify',
      kind: 'reorder',
      appId: ali().appId,
      outTradeNo: early,
      delayMs: 2000,
    });
    await ali().control('POST', `/trades/${ali().appId}/${early}/pay`);
    await buyerPays(late);
    await eventually(
      () => storedStatus(early),
      (s) => s === 'SUCCESS',
    );

    const lost = tradeNo();
    await pay(lost, 'native');
    await ali().control('POST', `/trades/${ali().appId}/${lost}/scan`);
    await ali().control('POST', '/faults', {
      channel: 'notify',
      kind: 'drop',
      appId: ali().appId,
      outTradeNo: lost,
      times: 'always',
    });
    await ali().control('POST', `/trades/${ali().appId}/${lost}/pay`);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await storedStatus(lost)).toBe('NOTPAY');
    expect(await h.vkPay.queryPayment(MERCHANT, lost)).toMatchObject({
      orderPaid: true,
      order: { status: 'SUCCESS' },
    });
    await ali().control('DELETE', '/faults');

    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const no of [dup, early, late, lost]) expect(handled.filter((n) => n === no)).toHaveLength(1);
  });

  it('refunds in part and in full, out_request_no being the idempotency key', async () => {
    const no = tradeNo();
    await pay(no, 'native', 1000);
    await ali().control('POST', `/trades/${ali().appId}/${no}/scan`);
    await buyerPays(no);
    const first = await h.vkPay.refund({
      merchantId: MERCHANT,
      out_trade_no: no,
      out_refund_no: `${no}R1`,
      refund_fee: 250,
    });
    expect(first.refund.status).toBe('SUCCESS');
    expect(first.order).toMatchObject({ status: 'PARTIAL_REFUNDED', refundedFen: 250 });
    const again = await h.vkPay.refund({
      merchantId: MERCHANT,
      out_trade_no: no,
      out_refund_no: `${no}R1`,
      refund_fee: 250,
    });
    expect(again.order.refundedFen).toBe(250);
    const rest = await h.vkPay.refund({
      merchantId: MERCHANT,
      out_trade_no: no,
      out_refund_no: `${no}R2`,
      refund_fee: 750,
    });
    expect(rest.order).toMatchObject({ status: 'REFUNDED', refundedFen: 1000 });
    const queried = await h.vkPay.queryRefund(MERCHANT, `${no}R2`);
    expect(queried.refund.status).toBe('SUCCESS');
  });

  it('a refund refused for the seller balance goes through on a retry with the same out_request_no', async () => {
    const no = tradeNo();
    await pay(no, 'native', 1000);
    await ali().control('POST', `/trades/${ali().appId}/${no}/scan`);
    await buyerPays(no);
    await ali().control('POST', '/faults', {
      kind: 'businessError',
      subCode: 'ACQ.SELLER_BALANCE_NOT_ENOUGH',
      appId: ali().appId,
      method: 'alipay.trade.refund',
    });
    const ask = () =>
      h.vkPay.refund({ merchantId: MERCHANT, out_trade_no: no, out_refund_no: `${no}R1`, refund_fee: 400 });
    expect(await codeOf(ask())).toBe(40007);
    expect(await h.vkPay.listRefunds(MERCHANT, no)).toMatchObject([{ status: 'REFUSED', refundFen: 400 }]);
    expect(await h.vkPay.getOrder(MERCHANT, no)).toMatchObject({ status: 'SUCCESS', refundedFen: 0 });

    const retried = await ask();
    expect(retried.refund.status).toBe('SUCCESS');
    expect(retried.order).toMatchObject({ status: 'PARTIAL_REFUNDED', refundedFen: 400 });
    expect(await h.vkPay.listRefunds(MERCHANT, no)).toMatchObject([{ status: 'SUCCESS', refundFen: 400 }]);
  });

  it('closes an unpaid precreated order', async () => {
    const no = tradeNo();
    await pay(no, 'native');
    await ali().control('POST', `/trades/${ali().appId}/${no}/scan`);
    expect((await h.vkPay.closePayment(MERCHANT, no)).status).toBe('CLOSED');
  });

  it('maps every injected fault to its unified code and leaves no order in a wrong state', async () => {
    const cases: Array<{ kind: string; code: number; extra?: Record<string, unknown> }> = [
      { kind: 'unknownError', code: 40010, extra: { times: 'always' } },
      { kind: 'systemError', code: 40010, extra: { times: 'always' } },
      { kind: 'badSignature', code: 40002 },
      // A write that never answers: the outcome is unknown, and the order stays unpaid until a query says.
      { kind: 'hang', code: 40004, extra: { afterHandling: true } },
    ];
    for (const { kind, code, extra } of cases) {
      const no = tradeNo();
      await ali().control('POST', '/faults', {
        kind,
        appId: ali().appId,
        method: 'alipay.trade.precreate',
        ...extra,
      });
      const got = await codeOf(pay(no, 'native'));
      await ali().control('DELETE', '/faults');
      expect({ kind, code: got }).toEqual({ kind, code });
      expect(await storedStatus(no)).toBe('NOTPAY');
    }
  });

  it('refuses a forged notification and answers anything but "success"', async () => {
    const no = tradeNo();
    await pay(no, 'native');
    const forged = await fetch(`${h.vkPay.context.publicUrl}/notify/alipay/${MERCHANT}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body: new URLSearchParams({
        app_id: ali().appId,
        out_trade_no: no,
        trade_no: '2026112522001',
        trade_status: 'TRADE_SUCCESS',
        total_amount: '88.80',
        notify_id: 'forged',
        sign_type: 'RSA2',
        sign: Buffer.alloc(256).toString('base64'),
      }).toString(),
    });
    expect(await forged.text()).not.toBe('success');
    expect(forged.status).toBeLessThan(600);
    expect(await storedStatus(no)).toBe('NOTPAY');
  });
});
