import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../support/backends.ts';
import { signed } from '../support/signed-client.ts';
import {
  API_APP,
  eventually,
  MERCHANT,
  startWxpayHarness,
  tradeNumbers,
  type WxpayHarness,
} from './harness.ts';

const tradeNo = tradeNumbers('RV');

describe.each(backends)('the manual-review queue on $name', (backend) => {
  let h: WxpayHarness;
  beforeAll(async () => {
    h = await startWxpayHarness(backend);
  });
  afterAll(async () => {
    await h?.close();
  });

  const api = async (method: 'GET' | 'POST', url: string, body?: unknown) => {
    const response = await h.app.inject(signed(API_APP, method, url, body));
    return { status: response.statusCode, json: response.json() };
  };

  it('a payment for an order closed here is acknowledged, kept for a person, and resolved over the API', async () => {
    const no = tradeNo();
    await h.vkPay.pay({
      merchantId: MERCHANT,
      provider: 'wxpay',
      scene: 'native',
      out_trade_no: no,
      total_fee: 1200,
      subject: '人工复核',
      type: 'goods',
    });
    // Closed here (it expired, say) while the buyer still had the QR code open at the gateway.
    await h.vkPay.applyPaymentResult({
      merchantId: MERCHANT,
      provider: 'wxpay',
      outTradeNo: no,
      status: 'CLOSED',
      transactionId: null,
      amountFen: 1200,
      mchId: h.mchId,
      appId: h.appId,
      source: 'query',
      raw: null,
    });
    await h.control('POST', `/trades/${h.mchId}/${no}/pay`);

    // The callback is refused as a payment but acknowledged: WeChat Pay stops resending it.
    const delivered = await eventually(
      async () => (await h.control('GET', `/notifications?out_trade_no=${no}`)).json,
      (records: Array<{ state: string }>) => records.length > 0 && records[0]!.state !== 'pending',
    );
    expect(delivered[0]).toMatchObject({ state: 'delivered' });
    expect((await h.vkPay.getOrder(MERCHANT, no)).status).toBe('CLOSED');

    const open = await api('GET', '/api/reviews');
    expect(open.status).toBe(200);
    const review = open.json.data.reviews.find((r: { out_trade_no: string }) => r.out_trade_no === no);
    expect(review).toMatchObject({
      kind: 'paid_after_close',
      amount: 1200,
      provider: 'wxpay',
      status: 'OPEN',
      reference: expect.stringMatching(/^42/),
    });
    expect(review.action).toContain('refund the payment');

    const refused = await api('POST', `/api/reviews/${review.id}/resolve`, { note: '' });
    expect(refused.status).toBe(400);
    expect(refused.json).toMatchObject({ code: 40001, field: 'note' });
    const resolved = await api('POST', `/api/reviews/${review.id}/resolve`, {
      note: 'refunded in the merchant platform',
    });
    expect(resolved.status).toBe(200);
    expect(resolved.json.data.review).toMatchObject({
      status: 'RESOLVED',
      note: 'refunded in the merchant platform',
    });
    const after = await api('GET', '/api/reviews');
    expect(after.json.data.reviews.some((r: { id: number }) => r.id === review.id)).toBe(false);
    const all = await api('GET', '/api/reviews?status=ALL');
    expect(all.json.data.reviews.some((r: { id: number }) => r.id === review.id)).toBe(true);
  });

  it('an abnormal refund goes to the queue once', async () => {
    const no = tradeNo();
    await h.vkPay.pay({
      merchantId: MERCHANT,
      provider: 'wxpay',
      scene: 'native',
      out_trade_no: no,
      total_fee: 300,
      subject: '异常退款',
      type: 'goods',
    });
    await h.control('POST', `/trades/${h.mchId}/${no}/pay`);
    await eventually(
      () => h.vkPay.getOrder(MERCHANT, no),
      (order) => order.status === 'SUCCESS',
    );
    await h.vkPay.refund({
      merchantId: MERCHANT,
      out_trade_no: no,
      out_refund_no: `${no}R1`,
      refund_fee: 300,
    });
    await h.control('POST', `/refunds/${h.mchId}/${no}R1/abnormal`);
    await eventually(
      async () => (await h.vkPay.listRefunds(MERCHANT, no))[0]!.status,
      (status) => status === 'ABNORMAL',
    );
    await h.vkPay.queryRefund(MERCHANT, `${no}R1`);
    const reviews = (await h.vkPay.listReviews(MERCHANT)).filter((r) => r.outTradeNo === no);
    expect(reviews).toMatchObject([{ kind: 'refund_abnormal', reference: `${no}R1`, amountFen: 300 }]);

    // Settled by sending it to the buyer's bank card: the card and name travel encrypted.
    const card = '6222020200112233445';
    const missing = await api('POST', `/api/refunds/${no}R1/abnormal`, { type: 'USER_BANK_CARD' });
    expect(missing.status).toBe(400);
    expect(missing.json).toMatchObject({ code: 40001, field: 'bankType' });
    const sent = await api('POST', `/api/refunds/${no}R1/abnormal`, {
      type: 'USER_BANK_CARD',
      bank_type: 'ICBC_DEBIT',
      bank_account: card,
      real_name: '张三',
    });
    expect(sent.status).toBe(200);
    expect(sent.json.data.refund).toMatchObject({ out_refund_no: `${no}R1`, status: 'PROCESSING' });
    const atGateway = await h.control('GET', `/refunds/${h.mchId}/${no}R1`);
    expect(atGateway.json.abnormal_recipient).toEqual({
      type: 'USER_BANK_CARD',
      bank_type: 'ICBC_DEBIT',
      bank_account_last4: '3445',
      real_name: '张三',
    });
    expect(
      (await h.vkPay.listReviews(MERCHANT, { status: 'RESOLVED' })).filter((r) => r.outTradeNo === no),
    ).toMatchObject([{ kind: 'refund_abnormal', note: expect.stringContaining('USER_BANK_CARD') }]);
    // Only an ABNORMAL refund can be sent again.
    const again = await api('POST', `/api/refunds/${no}R1/abnormal`, { type: 'MERCHANT_BANK_CARD' });
    expect(again.json).toMatchObject({ code: 40001, field: 'out_refund_no' });

    // Abnormal a second time: the resolved case opens again, and the merchant's account takes it.
    await h.control('POST', `/refunds/${h.mchId}/${no}R1/abnormal`);
    await eventually(
      async () => (await h.vkPay.listRefunds(MERCHANT, no))[0]!.status,
      (status) => status === 'ABNORMAL',
    );
    expect((await h.vkPay.listReviews(MERCHANT)).filter((r) => r.outTradeNo === no)).toMatchObject([
      { kind: 'refund_abnormal', status: 'OPEN', note: null },
    ]);
    const toMerchant = await api('POST', `/api/refunds/${no}R1/abnormal`, { type: 'MERCHANT_BANK_CARD' });
    expect(toMerchant.json.data.refund.status).toBe('PROCESSING');

    await h.control('POST', `/refunds/${h.mchId}/${no}R1/succeed`);
    const done = await eventually(
      () => h.vkPay.getOrder(MERCHANT, no),
      (order) => order.status === 'REFUNDED',
    );
    expect(done.refundedFen).toBe(300);
    // The card number is stored and logged nowhere.
    for (const table of ['payment_logs', 'payment_errors', 'payment_refunds', 'payment_reviews'] as const) {
      const rows = await h.vkPay.store.db.selectFrom(table).selectAll().execute();
      expect(JSON.stringify(rows)).not.toContain(card);
    }
  });
});
