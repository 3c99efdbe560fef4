/**
 * Notifications and return_url: verified with the Alipay key over the once-decoded fields, for this
 * merchant's app only, mapped to payment or refund results; the ack is exactly "success".
 */
import { describe, expect, it } from 'vitest';
import { APP_ID, parties, payError, provider, SELLER_ID } from './support/fixtures.ts';
import { rsaPair } from './support/keys.ts';
import { formBody, notificationSignature } from './support/signer.ts';

const p = parties();
const alipay = provider(p, 'http://127.0.0.1:9/gateway.do', { sellerId: SELLER_ID });
const FORM = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };

const paidFields = {
  notify_time: '2024-01-01 12:00:31',
  notify_type: 'trade_status_sync',
  notify_id: 'ac05099524730693a8b330c5ecf72da9786',
  charset: 'utf-8',
  version: '1.0',
  app_id: APP_ID,
  auth_app_id: APP_ID,
  trade_no: '2024010122001400000000000001',
  out_trade_no: 'T20240101000001',
  buyer_id: '2088102177846880',
  seller_id: SELLER_ID,
  trade_status: 'TRADE_SUCCESS',
  total_amount: '88.80',
  receipt_amount: '88.80',
  subject: 'VIP 会员 100%',
  body: '',
  gmt_create: '2024-01-01 12:00:00',
  gmt_payment: '2024-01-01 12:00:30',
  fund_bill_list: '[{"amount":"88.80","fundChannel":"ALIPAYACCOUNT"}]',
};

function signed(fields: Record<string, string>, key = p.alipay.privateKey): Record<string, string> {
  return { ...fields, sign_type: 'RSA2', sign: notificationSignature(key, fields) };
}
const body = (fields: Record<string, string>) => Buffer.from(formBody(fields));

describe('alipay parseNotify', () => {
  it('a signed payment notification becomes a PaymentResult', async () => {
    const event = await alipay.parseNotify('m1', FORM, body(signed(paidFields)));
    expect(event.kind).toBe('payment');
    if (event.kind !== 'payment') return;
    expect(event.result).toMatchObject({
      merchantId: 'm1',
      provider: 'alipay',
      outTradeNo: 'T20240101000001',
      transactionId: '2024010122001400000000000001',
      amountFen: 8880,
      status: 'SUCCESS',
      mchId: SELLER_ID,
      appId: APP_ID,
      eventId: paidFields.notify_id,
      source: 'notify',
    });
    expect(event.result.paidAt?.toISOString()).toBe('2024-01-01T04:00:30.000Z');
    expect(event.result.raw).not.toHaveProperty('sign');
    expect((event.result.raw as Record<string, string>).subject).toBe('VIP 会员 100%');
  });

  it('mchId is null when no sellerId is configured (identity() then says appId)', async () => {
    const plain = provider(p, 'http://127.0.0.1:9/gateway.do');
    const event = await plain.parseNotify('m1', FORM, body(signed(paidFields)));
    expect(event.kind === 'payment' && event.result.mchId).toBeNull();
  });

  it('rejects a tampered field, a wrong key and a missing sign with 40002', async () => {
    const good = signed(paidFields);
    expect(
      (await payError(alipay.parseNotify('m1', FORM, body({ ...good, total_amount: '0.01' })))).code,
    ).toBe(40002);
    expect(
      (await payError(alipay.parseNotify('m1', FORM, body(signed(paidFields, rsaPair().privateKey))))).code,
    ).toBe(40002);
    const { sign: _sign, ...unsigned } = good;
    expect((await payError(alipay.parseNotify('m1', FORM, body(unsigned)))).field).toBe('sign');
    expect((await payError(alipay.parseNotify('m1', FORM, body({ ...good, sign_type: 'RSA' })))).field).toBe(
      'sign_type',
    );
  });

  it('rejects a genuine notification for another app or seller', async () => {
    const otherApp = signed({ ...paidFields, app_id: '2021999999999999' });
    expect((await payError(alipay.parseNotify('m1', FORM, body(otherApp)))).field).toBe('app_id');
    const otherSeller = signed({ ...paidFields, seller_id: '2088999999999999' });
    expect((await payError(alipay.parseNotify('m1', FORM, body(otherSeller)))).field).toBe('seller_id');
  });

  it('decodes once: a literal "%41" in a value stays "%41"', async () => {
    const fields = { ...paidFields, subject: 'discount %41 off' };
    const event = await alipay.parseNotify('m1', FORM, body(signed(fields)));
    expect((event.result.raw as Record<string, string>).subject).toBe('discount %41 off');
  });

  it('reads a GBK-encoded notification in the declared charset', async () => {
    const fields = { ...paidFields, charset: 'gbk', subject: '会员充值' };
    const all = signed(fields);
    // 会员充值 in GBK.
    const gbk = 'subject=%BB%E1%D4%B1%B3%E4%D6%B5';
    const rest = formBody(Object.fromEntries(Object.entries(all).filter(([k]) => k !== 'subject')));
    const event = await alipay.parseNotify(
      'm1',
      { 'content-type': 'application/x-www-form-urlencoded' },
      Buffer.from(`${rest}&${gbk}`),
    );
    expect((event.result.raw as Record<string, string>).subject).toBe('会员充值');
  });

  it('refuses a repeated field as ambiguous', async () => {
    const text = `${formBody(signed(paidFields))}&total_amount=0.01`;
    expect((await payError(alipay.parseNotify('m1', FORM, Buffer.from(text)))).code).toBe(40001);
  });

  it('a closed unpaid trade is CLOSED; TRADE_FINISHED is SUCCESS', async () => {
    const closed = { ...paidFields, trade_status: 'TRADE_CLOSED', gmt_payment: '', receipt_amount: '0.00' };
    const event = await alipay.parseNotify('m1', FORM, body(signed(closed)));
    expect(event.kind === 'payment' && event.result.status).toBe('CLOSED');
    const finished = await alipay.parseNotify(
      'm1',
      FORM,
      body(signed({ ...paidFields, trade_status: 'TRADE_FINISHED' })),
    );
    expect(finished.kind === 'payment' && finished.result.status).toBe('SUCCESS');
  });

  it('refund notifications (partial: TRADE_SUCCESS, full: TRADE_CLOSED) become RefundResults', async () => {
    const refundFields = {
      ...paidFields,
      out_biz_no: 'R20240101000002',
      refund_fee: '30.00',
      gmt_refund: '2024-01-02 10:00:00.123',
    };
    for (const trade_status of ['TRADE_SUCCESS', 'TRADE_CLOSED']) {
      const event = await alipay.parseNotify('m1', FORM, body(signed({ ...refundFields, trade_status })));
      expect(event.kind).toBe('refund');
      if (event.kind !== 'refund') return;
      expect(event.result).toMatchObject({
        outRefundNo: 'R20240101000002',
        status: 'SUCCESS',
        // refund_fee is cumulative for the trade: not this refund's amount.
        refundFen: null,
        eventId: paidFields.notify_id,
        source: 'notify',
      });
      expect(event.result.successTime?.toISOString()).toBe('2024-01-02T02:00:00.123Z');
    }
  });

  it('refuses a notify_time older than the 25 h resend window with 40002 (a replay)', async () => {
    // The provider's clock is 2024-01-01 12:00:00 in Beijing.
    const old = signed({ ...paidFields, notify_time: '2023-12-31 10:59:59' });
    const error = await payError(alipay.parseNotify('m1', FORM, body(old)));
    expect(error).toMatchObject({ code: 40002, field: 'notify_time' });
    expect(error.message).toMatch(/older than the 25 h resend window/);
    const lastResend = signed({ ...paidFields, notify_time: '2023-12-31 11:00:01' });
    await expect(alipay.parseNotify('m1', FORM, body(lastResend))).resolves.toMatchObject({
      kind: 'payment',
    });
  });

  it('notifyMaxAgeHours narrows or widens the window; a notify_time that cannot be read is refused', async () => {
    const strict = provider(p, 'http://127.0.0.1:9/gateway.do', { notifyMaxAgeHours: 1 });
    const twoHours = signed({ ...paidFields, notify_time: '2024-01-01 10:00:00' });
    expect((await payError(strict.parseNotify('m1', FORM, body(twoHours)))).field).toBe('notify_time');
    const lenient = provider(p, 'http://127.0.0.1:9/gateway.do', { notifyMaxAgeHours: 72 });
    const twoDays = signed({ ...paidFields, notify_time: '2023-12-30 12:00:00' });
    await expect(lenient.parseNotify('m1', FORM, body(twoDays))).resolves.toMatchObject({ kind: 'payment' });
    const unreadable = signed({ ...paidFields, notify_time: 'yesterday' });
    expect(await payError(alipay.parseNotify('m1', FORM, body(unreadable)))).toMatchObject({
      code: 40001,
      field: 'notify_time',
    });
  });

  it('refuses a notifyMaxAgeHours that is not a positive number at configuration time', () => {
    for (const notifyMaxAgeHours of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => provider(p, 'http://127.0.0.1:9/gateway.do', { notifyMaxAgeHours })).toThrow(
        /notifyMaxAgeHours/,
      );
    }
  });

  it('answers by cause: "success" to stop the resends, "fail" with 401, 404 or 500 otherwise', () => {
    const text = { 'Content-Type': 'text/plain; charset=utf-8' };
    expect(alipay.ackNotify('accepted')).toEqual({ status: 200, headers: text, body: 'success' });
    expect(alipay.ackNotify('refused')).toEqual({ status: 401, headers: text, body: 'fail' });
    expect(alipay.ackNotify('unknown_merchant')).toEqual({ status: 404, headers: text, body: 'fail' });
    expect(alipay.ackNotify('retry')).toEqual({ status: 500, headers: text, body: 'fail' });
  });
});

describe('alipay verifyReturn', () => {
  const returnFields = {
    charset: 'utf-8',
    out_trade_no: 'T20240101000001',
    method: 'alipay.trade.page.pay.return',
    total_amount: '88.80',
    trade_no: '2024010122001400000000000001',
    auth_app_id: APP_ID,
    version: '1.0',
    app_id: APP_ID,
    seller_id: SELLER_ID,
    timestamp: '2024-01-01 12:00:44',
  };

  it('verifies return_url parameters, and says they are not proof of payment', () => {
    const query = `?${new URLSearchParams(signed(returnFields)).toString()}`;
    const result = alipay.verifyReturn('m1', `https://shop.example.com/paid${query}`);
    expect(result).toMatchObject({ outTradeNo: 'T20240101000001', amountFen: 8880, proofOfPayment: false });
  });

  it('rejects tampered return_url parameters', () => {
    const tampered = { ...signed(returnFields), total_amount: '0.01' };
    expect(() => alipay.verifyReturn('m1', tampered)).toThrow(/signature/);
  });
});
