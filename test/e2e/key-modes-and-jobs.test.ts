import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PayError } from '../../src/core/errors.ts';
import { DEFAULT_HEAL, syncUnpaidOrders } from '../../src/service/jobs.ts';
import { backends } from '../support/backends.ts';
import { eventually, MERCHANT, startWxpayHarness, type WxpayHarness } from './harness.ts';

let sequence = 0;
const tradeNo = (prefix: string) =>
  `${prefix}${Date.now().toString(36)}${(sequence++).toString().padStart(4, '0')}`;

describe('certificate key modes, end to end', () => {
  for (const keyMode of ['certificate', 'both'] as const) {
    describe(`WeChat Pay in ${keyMode} mode, Alipay in certificate mode`, () => {
      let h: WxpayHarness;
      beforeAll(async () => {
        h = await startWxpayHarness(backends[0]!, { keyMode, alipayKeyMode: 'certificate' });
      });
      afterAll(async () => {
        await h?.close();
      });
      const status = (no: string) =>
        h.vkPay.store.db
          .selectFrom('payment_orders')
          .select('status')
          .where('out_trade_no', '=', no)
          .executeTakeFirstOrThrow();

      /** An Alipay QR payment, scanned and paid on the emulator, then paid here through its notification. */
      const alipayPaid = async (no: string, totalFen: number) => {
        await h.vkPay.pay({
          merchantId: MERCHANT,
          provider: 'alipay',
          scene: 'native',
          out_trade_no: no,
          total_fee: totalFen,
          subject: '证书模式',
          type: 'goods',
        });
        await h.alipay.control('POST', `/trades/${h.alipay.appId}/${no}/scan`);
        await h.alipay.control('POST', `/trades/${h.alipay.appId}/${no}/pay`);
        expect(
          (
            await eventually(
              () => status(no),
              (r) => r.status === 'SUCCESS',
            )
          ).status,
        ).toBe('SUCCESS');
      };

      it('pays and refunds through verified, certificate-signed answers and notifications', async () => {
        const wx = tradeNo('WC');
        await h.vkPay.pay({
          merchantId: MERCHANT,
          provider: 'wxpay',
          scene: 'native',
          out_trade_no: wx,
          total_fee: 500,
          subject: '证书模式',
          type: 'goods',
        });
        await h.control('POST', `/trades/${h.mchId}/${wx}/pay`);
        expect(
          (
            await eventually(
              () => status(wx),
              (r) => r.status === 'SUCCESS',
            )
          ).status,
        ).toBe('SUCCESS');
        const refund = await h.vkPay.refund({
          merchantId: MERCHANT,
          out_trade_no: wx,
          out_refund_no: `${wx}R`,
          refund_fee: 100,
        });
        expect(refund.refund.status).toBe('PROCESSING');

        const ali = tradeNo('AC');
        await alipayPaid(ali, 500);
        const aliRefund = await h.vkPay.refund({
          merchantId: MERCHANT,
          out_trade_no: ali,
          out_refund_no: `${ali}R`,
          refund_fee: 100,
        });
        expect(aliRefund.order).toMatchObject({ status: 'PARTIAL_REFUNDED', refundedFen: 100 });
      });

      it('encrypts an abnormal refund for the key the gateway holds in this mode', async () => {
        const wx = tradeNo('WA');
        await h.vkPay.pay({
          merchantId: MERCHANT,
          provider: 'wxpay',
          scene: 'native',
          out_trade_no: wx,
          total_fee: 200,
          subject: '证书模式',
          type: 'goods',
        });
        await h.control('POST', `/trades/${h.mchId}/${wx}/pay`);
        await eventually(
          () => status(wx),
          (r) => r.status === 'SUCCESS',
        );
        await h.vkPay.refund({
          merchantId: MERCHANT,
          out_trade_no: wx,
          out_refund_no: `${wx}R`,
          refund_fee: 200,
        });
        await h.control('POST', `/refunds/${h.mchId}/${wx}R/abnormal`);
        const sent = await h.vkPay.applyAbnormalRefund(MERCHANT, `${wx}R`, {
          type: 'USER_BANK_CARD',
          bankType: 'CMB_DEBIT',
          bankAccount: '6225880212345678',
          realName: '李四',
        });
        expect(sent.refund.status).toBe('PROCESSING');
        expect((await h.control('GET', `/refunds/${h.mchId}/${wx}R`)).json.abnormal_recipient).toEqual({
          type: 'USER_BANK_CARD',
          bank_type: 'CMB_DEBIT',
          bank_account_last4: '5678',
          real_name: '李四',
        });
      });

      it('follows a renewed Alipay certificate: downloaded once, trusted through the root', async () => {
        const rotated = await h.alipay.control('POST', `/apps/${h.alipay.appId}/rotate-alipay-cert`);
        expect(rotated.status).toBe(200);
        const ali = tradeNo('AR');
        // The precreate answer is signed under the new SN: the provider fetches the certificate;
        // the notification, signed with the new key, verifies with the learnt certificate.
        await alipayPaid(ali, 300);
        expect((await h.vkPay.queryPayment(MERCHANT, ali)).orderPaid).toBe(true);

        // An answer under an SN Alipay never issued cannot be trusted: 40003, nothing applied.
        await h.alipay.control('POST', '/faults', {
          kind: 'wrongCertSn',
          appId: h.alipay.appId,
          method: 'alipay.trade.precreate',
        });
        const forged = tradeNo('AF');
        const error = await h.vkPay
          .pay({
            merchantId: MERCHANT,
            provider: 'alipay',
            scene: 'native',
            out_trade_no: forged,
            total_fee: 300,
            subject: '证书更换',
            type: 'goods',
          })
          .then(
            () => null,
            (failure: unknown) => failure,
          );
        expect(error).toBeInstanceOf(PayError);
        expect([(error as PayError).code, (error as PayError).field]).toEqual([40003, 'alipay_cert_sn']);
        expect((error as PayError).message).toContain('could not be trusted');
        await h.alipay.control('DELETE', '/faults');
      });
    });
  }
});

describe.each(backends)('the healing job on $name', (backend) => {
  let h: WxpayHarness;
  // The service's clock, moved by the test; the emulator keeps real time.
  let clock = Date.now();
  const advance = (ms: number) => {
    clock += ms;
  };
  beforeAll(async () => {
    h = await startWxpayHarness(backend, { vkPay: { now: () => new Date(clock) } });
  });
  afterAll(async () => {
    await h?.close();
  });

  const pay = (no: string, expireAt?: Date) =>
    h.vkPay.pay({
      merchantId: MERCHANT,
      provider: 'wxpay',
      scene: 'native',
      out_trade_no: no,
      total_fee: 300,
      subject: '对账',
      type: 'goods',
      ...(expireAt ? { expireAt } : {}),
    });
  const statusOf = async (nos: string[]) =>
    Object.fromEntries(
      (
        await h.vkPay.store.db
          .selectFrom('payment_orders')
          .select(['out_trade_no', 'status'])
          .where('out_trade_no', 'in', nos)
          .execute()
      ).map((row) => [row.out_trade_no, row.status]),
    );
  const checksOf = async (no: string) =>
    (
      await h.vkPay.store.db
        .selectFrom('payment_logs')
        .select('id')
        .where('out_trade_no', '=', no)
        .where('type', 'in', ['query', 'close'])
        .execute()
    ).length;

  it('settles lost callbacks on the schedule and closes expired orders at the gateway', async () => {
    const lost = tradeNo('JL');
    const expired = tradeNo('JE');
    const waiting = tradeNo('JW');
    await pay(lost);
    await pay(waiting);
    await pay(expired, new Date(clock + 90_000));
    await h.control('POST', '/faults', {
      channel: 'notify',
      kind: 'drop',
      outTradeNo: lost,
      times: 'always',
    });
    await h.control('POST', `/trades/${h.mchId}/${lost}/pay`);

    // Nothing is due before the first minute: the callback has its turn.
    expect((await syncUnpaidOrders(h.vkPay.context)).checked).toBe(0);
    advance(61_000);
    const first = await syncUnpaidOrders(h.vkPay.context);
    expect(first).toMatchObject({ checked: 3, paid: 1, failed: 0 });
    expect(await statusOf([lost, expired, waiting])).toEqual({
      [lost]: 'SUCCESS',
      [expired]: 'NOTPAY',
      [waiting]: 'NOTPAY',
    });
    // Checked again after half its age (30 s at least), the expiring one exactly at its expiry.
    advance(20_000);
    expect((await syncUnpaidOrders(h.vkPay.context)).checked).toBe(0);
    advance(15_000);
    const second = await syncUnpaidOrders(h.vkPay.context);
    expect(second).toMatchObject({ checked: 2, closed: 1, failed: 0 });
    expect(await statusOf([expired, waiting])).toEqual({ [expired]: 'CLOSED', [waiting]: 'NOTPAY' });
    const atGateway = await h.control('GET', `/trades/${h.mchId}/${expired}`);
    expect(atGateway.json.transaction.trade_state).toBe('CLOSED');
    expect(await checksOf(waiting)).toBe(2);
    await h.control('DELETE', '/faults');
  });

  it('reaches the newest order however many older ones are due', async () => {
    const nos = Array.from({ length: 60 }, () => tradeNo('JF'));
    for (const no of nos) await pay(no);
    const newest = nos.at(-1)!;
    await h.control('POST', '/faults', {
      channel: 'notify',
      kind: 'drop',
      outTradeNo: newest,
      times: 'always',
    });
    await h.control('POST', `/trades/${h.mchId}/${newest}/pay`);
    advance(61_000);
    const options = { ...DEFAULT_HEAL, batchSize: 50 };
    const ticks = [
      await syncUnpaidOrders(h.vkPay.context, options),
      await syncUnpaidOrders(h.vkPay.context, options),
    ];
    // The 60 new orders, and any left due from the test before.
    expect(ticks[0]!.checked).toBe(50);
    expect(ticks[1]!.checked).toBeGreaterThanOrEqual(10);
    expect(ticks[1]!.checked).toBeLessThan(50);
    expect((await statusOf([newest]))[newest]).toBe('SUCCESS');
    // Each order was asked once: the first 50 moved to their next check when claimed.
    for (const no of nos) expect(await checksOf(no)).toBe(1);
    await h.control('DELETE', '/faults');
  });

  it('a close the gateway refuses goes to the review queue once', async () => {
    const no = tradeNo('JC');
    await pay(no, new Date(clock + 61_000));
    await h.control('POST', '/faults', {
      kind: 'signTest',
      operation: 'close',
      outTradeNo: no,
      times: 'always',
    });
    advance(62_000);
    const report = await syncUnpaidOrders(h.vkPay.context);
    expect(report).toMatchObject({ escalated: 1 });
    advance(120_000);
    await syncUnpaidOrders(h.vkPay.context);
    const reviews = (await h.vkPay.listReviews(MERCHANT)).filter((review) => review.outTradeNo === no);
    expect(reviews).toHaveLength(1);
    expect(reviews[0]).toMatchObject({ kind: 'close_failed', details: { code: 40002 } });
    expect((await statusOf([no]))[no]).toBe('NOTPAY');
    await h.control('DELETE', '/faults');
  });
});
