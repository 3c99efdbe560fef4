/**
 * One typed mapping per operation: what goes into biz_content, and how each answer reads, against
 * the scripted local gateway.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { toRefundAnswer } from '../../../src/providers/alipay/operations/refund.ts';
import { APP_ID, NOON_BEIJING, order, parties, payError, provider, SELLER_ID } from './support/fixtures.ts';

const NOON_PLUS = NOON_BEIJING + 3_600_000;

import { type Script, startGateway, type TestGateway } from './support/gateway.ts';
import { requestParams, requestVerifies } from './support/signer.ts';

const p = parties();
let gateway: TestGateway;
const ok = (fields: Record<string, unknown>) => ({ response: { code: '10000', msg: 'Success', ...fields } });
const fail = (sub_code: string) => ({ response: { code: '40004', msg: 'Business Failed', sub_code } });
const defaultScript: Script = () => ok({});

beforeAll(async () => {
  gateway = await startGateway(p.alipay.privateKey, defaultScript);
});
afterAll(() => gateway.close());
afterEach(() => {
  gateway.requests.length = 0;
  gateway.script = defaultScript;
});

const alipay = () => provider(p, gateway.url, { sellerId: SELLER_ID });
const refundRequest = {
  merchantId: 'm1',
  outTradeNo: 'T20240101000001',
  outRefundNo: 'R20240101000002',
  refundFen: 1000,
  totalFen: 8880,
  reason: '七天无理由',
  notifyUrl: 'https://pay.example.com/notify',
};

describe('alipay createPayment', () => {
  it('native: precreate with yuan amount and Beijing expiry, answering the qr_code', async () => {
    gateway.script = () => ok({ out_trade_no: 'T20240101000001', qr_code: 'https://qr.alipay.com/bax0001' });
    const created = await alipay().createPayment(
      order({
        expireAt: new Date(Date.UTC(2024, 0, 1, 4, 30, 0)),
        other: { store_id: 'S1', total_amount: '0.01' },
      }),
    );
    expect(created.client).toEqual({ scene: 'native', codeUrl: 'https://qr.alipay.com/bax0001' });
    const [request] = gateway.requests;
    expect(request!.params.method).toBe('alipay.trade.precreate');
    expect(request!.params.notify_url).toBe('https://pay.example.com/notify/alipay/m1');
    expect(request!.params.return_url).toBeUndefined();
    // `other` passes through, but cannot change the amount.
    expect(request!.biz).toEqual({
      product_code: 'FACE_TO_FACE_PAYMENT',
      store_id: 'S1',
      out_trade_no: 'T20240101000001',
      total_amount: '88.80',
      subject: 'VIP 会员',
      time_expire: '2024-01-01 12:30:00',
    });
  });

  it('miniprogram: trade.create with buyer_id or buyer_open_id from openid, answering trade_no', async () => {
    gateway.script = () => ok({ out_trade_no: 'T20240101000001', trade_no: '2024010122001400000000000009' });
    const created = await alipay().createPayment(order({ scene: 'miniprogram', openid: '2088102177846880' }));
    expect(created.client).toEqual({ scene: 'miniprogram', tradeNO: '2024010122001400000000000009' });
    expect(created.prepayId).toBe('2024010122001400000000000009');
    expect(gateway.requests[0]!.biz).toMatchObject({
      buyer_id: '2088102177846880',
      product_code: 'JSAPI_PAY',
    });
    await alipay().createPayment(
      order({ scene: 'miniprogram', openid: '074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5' }),
    );
    expect(gateway.requests[1]!.biz).toMatchObject({
      buyer_open_id: '074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5',
    });
    expect((await payError(alipay().createPayment(order({ scene: 'miniprogram' })))).field).toBe('openid');
  });

  it('pc and h5: a signed GET URL and an auto-submitting form, with return_url; no call is made', async () => {
    for (const [scene, method, productCode] of [
      ['pc', 'alipay.trade.page.pay', 'FAST_INSTANT_TRADE_PAY'],
      ['h5', 'alipay.trade.wap.pay', 'QUICK_WAP_WAY'],
    ] as const) {
      const created = await alipay().createPayment(order({ scene }));
      const client = created.client as { scene: string; payUrl: string; form: string };
      expect(client.scene).toBe(scene);
      const url = new URL(client.payUrl);
      expect(`${url.origin}${url.pathname}`).toBe(gateway.url);
      const params = requestParams(client.payUrl, '');
      expect(requestVerifies(params, p.app.publicKey)).toBe(true);
      expect(params).toMatchObject({ method, return_url: 'https://shop.example.com/paid' });
      expect(JSON.parse(params.biz_content!)).toMatchObject({
        product_code: productCode,
        total_amount: '88.80',
      });
      expect(client.form).toContain(`action="${gateway.url}"`);
      expect(client.form).toContain('submit()');
      // Quotes in biz_content are escaped inside the HTML attribute.
      expect(client.form).toContain('&quot;out_trade_no&quot;');
    }
    expect(gateway.requests).toHaveLength(0);
  });

  it('app: the signed order string for the Alipay app SDK', async () => {
    const created = await alipay().createPayment(order({ scene: 'app' }));
    const client = created.client as { scene: string; orderString: string };
    expect(client.scene).toBe('app');
    const params = Object.fromEntries(new URLSearchParams(client.orderString));
    expect(params.method).toBe('alipay.trade.app.pay');
    expect(params.return_url).toBeUndefined();
    expect(requestVerifies(params, p.app.publicKey)).toBe(true);
    // Values are percent-encoded (encodeURIComponent), so "+" in a signature cannot become a space.
    expect(client.orderString).not.toMatch(/sign=[^&]*\+/);
  });

  it('jsapi is not an Alipay scene (40001)', async () => {
    const error = await payError(alipay().createPayment(order({ scene: 'jsapi' })));
    expect([error.code, error.field]).toEqual([40001, 'scene']);
    expect(() => alipay().identity('m1', 'jsapi')).toThrow(/scene/);
  });

  it('identity is sellerId (else appId) and the appId', () => {
    expect(alipay().identity('m1', 'native')).toEqual({ mchId: SELLER_ID, appId: APP_ID });
    expect(provider(p, gateway.url).identity('m1', 'pc')).toEqual({ mchId: APP_ID, appId: APP_ID });
    expect(() => alipay().identity('nobody', 'pc')).toThrow(/no alipay merchant/);
  });
});

describe('alipay queryPayment', () => {
  const trade = {
    out_trade_no: 'T20240101000001',
    trade_no: '2024010122001400000000000001',
    total_amount: '88.80',
  };
  const statusOf = async (fields: Record<string, unknown>) => {
    gateway.script = () => ok({ ...trade, ...fields });
    return (await alipay().queryPayment({ merchantId: 'm1', outTradeNo: 'T20240101000001' })).status;
  };

  it('maps trade_status', async () => {
    expect(await statusOf({ trade_status: 'WAIT_BUYER_PAY' })).toBe('NOTPAY');
    expect(await statusOf({ trade_status: 'TRADE_SUCCESS', send_pay_date: '2024-01-01 12:00:30' })).toBe(
      'SUCCESS',
    );
    expect(await statusOf({ trade_status: 'TRADE_FINISHED' })).toBe('SUCCESS');
    expect(await statusOf({ trade_status: 'TRADE_CLOSED', buyer_pay_amount: '0.00' })).toBe('CLOSED');
  });

  it('a TRADE_CLOSED trade that was paid (then fully refunded) is never reported unpaid', async () => {
    expect(await statusOf({ trade_status: 'TRADE_CLOSED', send_pay_date: '2024-01-01 12:00:30' })).toBe(
      'SUCCESS',
    );
    expect(await statusOf({ trade_status: 'TRADE_CLOSED', receipt_amount: '88.80' })).toBe('SUCCESS');
  });

  it('reads amounts and payment time exactly', async () => {
    gateway.script = () =>
      ok({
        ...trade,
        total_amount: '0.07',
        trade_status: 'TRADE_SUCCESS',
        send_pay_date: '2024-01-01 12:00:30',
      });
    const result = await alipay().queryPayment({ merchantId: 'm1', outTradeNo: 'T20240101000001' });
    expect(result).toMatchObject({ amountFen: 7, source: 'query', appId: APP_ID, provider: 'alipay' });
    expect(result.paidAt?.toISOString()).toBe('2024-01-01T04:00:30.000Z');
  });

  it('an unscanned precreate (ACQ.TRADE_NOT_EXIST) is NOTPAY, but an unknown trade_no is 40005', async () => {
    gateway.script = () => fail('ACQ.TRADE_NOT_EXIST');
    const result = await alipay().queryPayment({ merchantId: 'm1', outTradeNo: 'T20240101000001' });
    expect(result.status).toBe('NOTPAY');
    const error = await payError(
      alipay().queryPayment({ merchantId: 'm1', outTradeNo: 'T20240101000001', transactionId: '2024' }),
    );
    expect(error.code).toBe(40005);
  });

  it('refuses an answer about another order, and a malformed amount', async () => {
    gateway.script = () => ok({ ...trade, out_trade_no: 'OTHER', trade_status: 'TRADE_SUCCESS' });
    expect(
      (
        await payError(
          alipay().queryPayment({ merchantId: 'm1', outTradeNo: 'T20240101000001', transactionId: 'x' }),
        )
      ).code,
    ).toBe(40001);
    gateway.script = () => ok({ ...trade, total_amount: '88.8.0', trade_status: 'TRADE_SUCCESS' });
    expect(
      (await payError(alipay().queryPayment({ merchantId: 'm1', outTradeNo: 'T20240101000001' }))).code,
    ).toBe(50000);
  });
});

describe('alipay close and cancel', () => {
  it('close succeeds, is idempotent for closed trades, and says when the trade was never created', async () => {
    await expect(alipay().closePayment({ merchantId: 'm1', outTradeNo: 'T20240101000001' })).resolves.toBe(
      'closed',
    );
    expect(gateway.requests[0]!.params.method).toBe('alipay.trade.close');
    for (const [code, answer] of [
      ['ACQ.TRADE_HAS_CLOSE', 'closed'],
      ['ACQ.TRADE_NOT_EXIST', 'absent'],
    ]) {
      gateway.script = () => fail(code!);
      await expect(alipay().closePayment({ merchantId: 'm1', outTradeNo: 'T20240101000001' })).resolves.toBe(
        answer,
      );
    }
  });

  it('closing a paid trade is 40006', async () => {
    gateway.script = () => fail('ACQ.TRADE_HAS_SUCCESS');
    const error = await payError(alipay().closePayment({ merchantId: 'm1', outTradeNo: 'T20240101000001' }));
    expect([error.code, error.gatewayCode]).toEqual([40006, 'ACQ.TRADE_HAS_SUCCESS']);
  });

  it('cancel reports what the gateway did', async () => {
    gateway.script = () =>
      ok({ out_trade_no: 'T20240101000001', trade_no: '2024', retry_flag: 'N', action: 'refund' });
    expect(await alipay().cancelPayment({ merchantId: 'm1', outTradeNo: 'T20240101000001' })).toMatchObject({
      action: 'refund',
      transactionId: '2024',
    });
  });
});

describe('alipay payment code (trade.pay bar_code) and reverse (trade.cancel)', () => {
  const counter = {
    scene: 'micropay' as const,
    authCode: '281234567890123456',
    expireAt: new Date(NOON_PLUS),
  };

  it('sends scene=bar_code, the auth code and FACE_TO_FACE_PAYMENT, and no time_expire', async () => {
    gateway.script = () =>
      ok({
        trade_no: '2024010122001400000000000001',
        out_trade_no: 'T20240101000001',
        total_amount: '88.80',
      });
    const created = await alipay().createPayment(order(counter));
    expect(gateway.requests[0]!.params.method).toBe('alipay.trade.pay');
    expect(gateway.requests[0]!.biz).toEqual({
      product_code: 'FACE_TO_FACE_PAYMENT',
      out_trade_no: 'T20240101000001',
      total_amount: '88.80',
      subject: 'VIP 会员',
      scene: 'bar_code',
      auth_code: '281234567890123456',
    });
    expect(created.result).toMatchObject({
      status: 'SUCCESS',
      amountFen: 8880,
      transactionId: '2024010122001400000000000001',
    });
  });

  it('10003 is USERPAYING, and an echoed auth_code is stripped from raw', async () => {
    gateway.script = () => ({
      response: {
        code: '10003',
        msg: ' order success pay inprocess',
        trade_no: '2024',
        out_trade_no: 'T20240101000001',
        total_amount: '88.80',
        auth_code: '281234567890123456',
      },
    });
    const created = await alipay().createPayment(order(counter));
    expect(created.result).toMatchObject({ status: 'USERPAYING', transactionId: '2024', paidAt: null });
    expect(JSON.stringify([created.raw, created.result!.raw])).not.toContain('281234567890123456');
  });

  it('a 20000 is sent once only: an unknown outcome, never resent with the single-use code', async () => {
    gateway.script = () => ({
      response: { code: '20000', msg: 'Service Currently Unavailable', sub_code: 'isp.unknow-error' },
    });
    const error = await payError(alipay().createPayment(order(counter)));
    expect([error.code, error.outcomeUnknown]).toEqual([40010, true]);
    expect(gateway.requests).toHaveLength(1);
  });

  it('retry_flag=Y asks for the same cancel again; N is reversed', async () => {
    gateway.script = () => ok({ out_trade_no: 'T20240101000001', retry_flag: 'Y' });
    expect(await alipay().reversePayment!({ merchantId: 'm1', outTradeNo: 'T20240101000001' })).toBe('retry');
    gateway.script = () =>
      ok({ out_trade_no: 'T20240101000001', trade_no: '2024', retry_flag: 'N', action: 'close' });
    expect(await alipay().reversePayment!({ merchantId: 'm1', outTradeNo: 'T20240101000001' })).toBe(
      'reversed',
    );
    expect(gateway.requests.at(-1)!.biz).toEqual({ out_trade_no: 'T20240101000001' });
  });
});

describe('alipay refund', () => {
  it('sends out_request_no = outRefundNo and a yuan amount', async () => {
    gateway.script = () =>
      ok({ trade_no: '2024', out_trade_no: 'T20240101000001', fund_change: 'Y', refund_fee: '10.00' });
    const result = await alipay().refund(refundRequest);
    expect(gateway.requests[0]!.biz).toEqual({
      out_trade_no: 'T20240101000001',
      out_request_no: 'R20240101000002',
      refund_amount: '10.00',
      refund_reason: '七天无理由',
    });
    expect(result).toMatchObject({
      status: 'SUCCESS',
      refundFen: 1000,
      outRefundNo: 'R20240101000002',
      source: 'request',
    });
  });

  it('reads refund_fee as the cumulative total, not this refund', async () => {
    // A second partial refund of 10.00 after an earlier 20.00: refund_fee says 30.00.
    gateway.script = () =>
      ok({ trade_no: '2024', fund_change: 'Y', refund_fee: '30.00', gmt_refund_pay: '2024-01-02 10:00:00' });
    const result = await alipay().refund(refundRequest);
    expect(result.refundFen).toBe(1000);
    expect(result.successTime?.toISOString()).toBe('2024-01-02T02:00:00.000Z');
    expect(toRefundAnswer({ fund_change: 'Y', refund_fee: '30.00' }, refundRequest).cumulativeRefundFen).toBe(
      3000,
    );
  });

  it('fund_change=N (a repeat, or not settled) stays PROCESSING for the refund query to settle', async () => {
    gateway.script = () => ok({ trade_no: '2024', fund_change: 'N', refund_fee: '10.00' });
    expect(await alipay().refund(refundRequest)).toMatchObject({ status: 'PROCESSING', refundFen: null });
  });

  it('a cumulative total below this refund cannot be a success', () => {
    expect(toRefundAnswer({ fund_change: 'Y', refund_fee: '5.00' }, refundRequest).status).toBe('PROCESSING');
  });

  it('maps refund failures', async () => {
    gateway.script = () => fail('ACQ.SELLER_BALANCE_NOT_ENOUGH');
    expect((await payError(alipay().refund(refundRequest))).code).toBe(40007);
  });
});

describe('alipay queryRefund', () => {
  it('REFUND_SUCCESS reads refund_amount as this refund', async () => {
    gateway.script = () =>
      ok({
        out_request_no: 'R20240101000002',
        refund_amount: '10.00',
        total_amount: '88.80',
        refund_status: 'REFUND_SUCCESS',
        gmt_refund_pay: '2024-01-02 10:00:00',
      });
    const result = await alipay().queryRefund({
      merchantId: 'm1',
      outRefundNo: 'R20240101000002',
      outTradeNo: 'T20240101000001',
    });
    expect(result).toMatchObject({ status: 'SUCCESS', refundFen: 1000, source: 'query' });
    expect(gateway.requests[0]!.biz).toMatchObject({
      out_trade_no: 'T20240101000001',
      out_request_no: 'R20240101000002',
    });
  });

  it('no refund_status is PROCESSING, not failed', async () => {
    gateway.script = () => ok({ out_request_no: 'R20240101000002' });
    expect(
      (await alipay().queryRefund({ merchantId: 'm1', outRefundNo: 'R20240101000002', outTradeNo: 'T1' }))
        .status,
    ).toBe('PROCESSING');
  });

  it('needs out_trade_no (40001 when empty)', async () => {
    const error = await payError(
      alipay().queryRefund({ merchantId: 'm1', outRefundNo: 'R20240101000002', outTradeNo: '' }),
    );
    expect([error.code, error.field]).toEqual([40001, 'out_trade_no']);
  });
});
