import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTradeBill } from '../../src/providers/wxpay/operations/bill.ts';
import { yesterdayInChina } from '../../src/service/reconcile.ts';
import { backends } from '../support/backends.ts';
import { chinaDate, noonOf, pastDay } from '../support/days.ts';
import { eventually, MERCHANT, startWxpayHarness, tradeNumbers, type WxpayHarness } from './harness.ts';

const tradeNo = tradeNumbers('RC');
const todayInChina = () => chinaDate(Date.now());

describe.each(backends)('reconciliation with the WeChat Pay trade bill on $name', (backend) => {
  let h: WxpayHarness;
  beforeAll(async () => {
    h = await startWxpayHarness(backend);
  });
  afterAll(async () => {
    await h?.close();
  });

  const pay = (no: string, totalFen: number) =>
    h.vkPay.pay({
      merchantId: MERCHANT,
      provider: 'wxpay',
      scene: 'native',
      out_trade_no: no,
      total_fee: totalFen,
      subject: '对账',
      type: 'goods',
    });
  const status = async (no: string) => (await h.vkPay.getOrder(MERCHANT, no)).status;
  /**
   * Runs `work` with both emulators' clocks at noon on `date`: what happens at the gateways then is
   * in that day's bills, which, like the real ones, exist only for past days. The service keeps the
   * real time; the gateways' signatures too.
   */
  const onDay = async (date: string, work: () => Promise<void>) => {
    await h.control('POST', '/clock', { at: noonOf(date) });
    await h.alipay.control('POST', '/clock', { at: noonOf(date) });
    try {
      await work();
    } finally {
      await h.control('POST', '/clock', { offsetMs: 0 });
      await h.alipay.control('POST', '/clock', { offsetMs: 0 });
    }
  };

  it('heals what a query can, and sends the rest to the review queue, once', async () => {
    const date = pastDay();
    const paid = tradeNo();
    const lost = tradeNo();
    const ghost = tradeNo();
    await onDay(date, async () => {
      // Paid, and the callback arrived.
      await pay(paid, 1000);
      await h.control('POST', `/trades/${h.mchId}/${paid}/pay`);
      await eventually(
        () => status(paid),
        (s) => s === 'SUCCESS',
      );
      // Paid, and every callback lost.
      await pay(lost, 500);
      await h.control('POST', '/faults', {
        channel: 'notify',
        kind: 'drop',
        outTradeNo: lost,
        times: 'always',
      });
      await h.control('POST', `/trades/${h.mchId}/${lost}/pay`);
      // A refund that succeeded at the gateway, its notification lost.
      await h.control('POST', '/faults', {
        channel: 'notify',
        kind: 'drop',
        eventType: 'REFUND.SUCCESS',
        times: 'always',
      });
      await h.vkPay.refund({
        merchantId: MERCHANT,
        out_trade_no: paid,
        out_refund_no: `${paid}R1`,
        refund_fee: 300,
      });
      await h.control('POST', `/refunds/${h.mchId}/${paid}R1/succeed`);
      // Paid at the gateway for an order this service never made.
      await h.vkPay.context.providers.get('wxpay')!.createPayment({
        merchantId: MERCHANT,
        outTradeNo: ghost,
        totalFen: 700,
        subject: '别处下的单',
        scene: 'native',
        notifyUrl: 'https://elsewhere.example/notify',
      });
      await h.control('POST', `/trades/${h.mchId}/${ghost}/pay`);
    });
    // Paid here (a result that never came from the gateway), absent from the bill.
    const phantom = tradeNo();
    await pay(phantom, 900);
    await h.vkPay.applyPaymentResult({
      merchantId: MERCHANT,
      provider: 'wxpay',
      outTradeNo: phantom,
      status: 'SUCCESS',
      transactionId: '4200000000000000000000000001',
      amountFen: 900,
      mchId: h.mchId,
      appId: h.appId,
      paidAt: new Date(noonOf(date)),
      source: 'query',
      raw: null,
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await status(lost)).toBe('NOTPAY');

    // Today's bill is not published yet.
    const early = await h.app.inject({
      method: 'POST',
      url: '/admin/reconcile',
      payload: { provider: 'wxpay', merchant: MERCHANT, date: todayInChina() },
    });
    expect(early.statusCode).toBe(400);
    expect(early.json()).toMatchObject({ code: 40001, field: 'date' });
    const report = await h.vkPay.reconcile('wxpay', MERCHANT, date);
    const found = {
      payments: 3,
      refunds: 1,
      // The bill's payments: the paid one, the lost one and the one made elsewhere; the refund.
      paymentsFen: 1000 + 500 + 700,
      refundsFen: 300,
      matched: 3,
      healed: 2,
      mismatches: 2,
    };
    // The merchant's one account: its bill is the whole day.
    expect(report).toEqual({
      provider: 'wxpay',
      merchantId: MERCHANT,
      date,
      ...found,
      accounts: [{ provider: 'wxpay', merchantId: MERCHANT, account: 'default', date, ...found }],
    });
    expect(await status(lost)).toBe('SUCCESS');
    expect(await h.vkPay.getOrder(MERCHANT, paid)).toMatchObject({
      status: 'PARTIAL_REFUNDED',
      refundedFen: 300,
    });
    const reviews = (await h.vkPay.listReviews(MERCHANT)).filter((review) => review.kind === 'bill_mismatch');
    expect(
      reviews.map((review) => [(review.details as { reason: string }).reason, review.outTradeNo]).sort(),
    ).toEqual(
      [
        ['missing_in_bill', phantom],
        ['unknown_payment', ghost],
      ].sort(),
    );

    // Again: nothing left to heal, the same two cases, no new reviews.
    const again = await h.app.inject({
      method: 'POST',
      url: '/admin/reconcile',
      payload: { provider: 'wxpay', merchant: MERCHANT, date },
    });
    expect(again.statusCode).toBe(200);
    expect(again.json().data).toMatchObject({ matched: 3, healed: 0, mismatches: 2 });
    expect(
      (await h.vkPay.listReviews(MERCHANT)).filter((review) => review.kind === 'bill_mismatch'),
    ).toHaveLength(2);
    await h.control('DELETE', '/faults');
  });

  it('reads the Alipay bill too: a zip of GBK files, payments and refunds by request number', async () => {
    const date = pastDay();
    const alipayPay = async (no: string, totalFen: number, lostCallback: boolean) => {
      await h.vkPay.pay({
        merchantId: MERCHANT,
        provider: 'alipay',
        scene: 'native',
        out_trade_no: no,
        total_fee: totalFen,
        subject: '支付宝对账',
        type: 'goods',
      });
      await h.alipay.control('POST', `/trades/${h.alipay.appId}/${no}/scan`);
      if (lostCallback)
        await h.alipay.control('POST', '/faults', {
          channel: 'notify',
          kind: 'drop',
          appId: h.alipay.appId,
          outTradeNo: no,
          times: 'always',
        });
      await h.alipay.control('POST', `/trades/${h.alipay.appId}/${no}/pay`);
    };
    const paid = tradeNo();
    const lost = tradeNo();
    await onDay(date, async () => {
      await alipayPay(paid, 1200, false);
      await eventually(
        () => status(paid),
        (s) => s === 'SUCCESS',
      );
      await h.vkPay.refund({
        merchantId: MERCHANT,
        out_trade_no: paid,
        out_refund_no: `${paid}R1`,
        refund_fee: 200,
      });
      await alipayPay(lost, 800, true);
    });
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await status(lost)).toBe('NOTPAY');

    const report = await h.vkPay.reconcile('alipay', MERCHANT, date);
    expect(report).toMatchObject({ payments: 2, refunds: 1, matched: 3, healed: 1, mismatches: 0 });
    expect(await status(lost)).toBe('SUCCESS');
    await h.alipay.control('DELETE', '/faults');
  });

  it('is for the operators, and refuses a date without a bill', async () => {
    const outsider = await h.app.inject({
      method: 'POST',
      url: '/admin/reconcile',
      payload: { provider: 'wxpay', merchant: MERCHANT },
      remoteAddress: '10.9.8.7',
    });
    expect(outsider.statusCode).toBe(403);
    const future = await h.app.inject({
      method: 'POST',
      url: '/admin/reconcile',
      payload: { provider: 'wxpay', merchant: MERCHANT, date: '2999-01-01' },
    });
    expect(future.statusCode).toBeGreaterThanOrEqual(400);
    expect(future.statusCode).toBeLessThan(500);
    const unknown = await h.app.inject({
      method: 'POST',
      url: '/admin/reconcile',
      payload: { provider: 'unionpay', merchant: MERCHANT, date: yesterdayInChina(new Date()) },
    });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().code).toBe(40001);
  });
});

describe('trade bill parsing', () => {
  it('reads columns by name, strips the backquotes and the byte-order mark, and keeps fen exact', () => {
    const text =
      '\ufeff商户订单号,交易时间,微信订单号,交易状态,订单金额,微信退款单号,商户退款单号,申请退款金额,退款状态\r\n' +
      '`T1,`2026-11-24 10:00:00,`4200000001,`SUCCESS,`0.29,`,`,`0.00,`\r\n' +
      '`T1,`2026-11-24 11:00:00,`4200000001,`REFUND,`0.29,`5030000001,`T1R1,`0.10,`SUCCESS\r\n' +
      '总交易单数,应结订单总金额,退款总金额\r\n`2,`0.29,`0.10\r\n';
    expect(parseTradeBill('2026-11-24', text).records).toEqual([
      {
        kind: 'payment',
        time: '2026-11-24 10:00:00',
        transactionId: '4200000001',
        outTradeNo: 'T1',
        totalFen: 29,
        state: 'SUCCESS',
      },
      {
        kind: 'refund',
        time: '2026-11-24 11:00:00',
        transactionId: '4200000001',
        outTradeNo: 'T1',
        totalFen: 29,
        refundId: '5030000001',
        outRefundNo: 'T1R1',
        refundFen: 10,
        refundStatus: 'SUCCESS',
      },
    ]);
    expect(() => parseTradeBill('2026-11-24', 'no,header\r\n')).toThrow('no header line');
  });
});
