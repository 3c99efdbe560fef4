/**
 * The emulator's alipay.trade.pay (scene=bar_code) and alipay.trade.cancel on the wire: payment
 * codes from the control API, the answers' codes and fields, and the gateway's strictness.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAlipaySandbox, startAlipaySandbox } from '../../../src/sandbox/alipay/index.ts';
import {
  controlJson,
  generateAppKeys,
  parseResponse,
  postForm,
  registerTestApp,
  rsa2Verify,
  signedRequest,
  type TestApp,
} from './helpers.ts';

let sandbox: RunningAlipaySandbox;
let app: TestApp;
let sequence = 0;

beforeAll(async () => {
  sandbox = await startAlipaySandbox({ timeFactor: 0.001 });
  app = await registerTestApp(sandbox);
});
afterAll(async () => sandbox.close());

const code = async (behaviour: string, extra: Record<string, unknown> = {}) =>
  controlJson<{ authCode: string; behaviour: string; expiresAt: string }>(
    `${sandbox.controlUrl}/payment-codes`,
    { behaviour, ...extra },
  );

const pay = (authCode: string, outTradeNo = `B-${++sequence}`, extra: Record<string, unknown> = {}) =>
  app.call('alipay.trade.pay', {
    out_trade_no: outTradeNo,
    scene: 'bar_code',
    auth_code: authCode,
    total_amount: '6.60',
    subject: '付款码',
    ...extra,
  });

describe('alipay emulator: payment codes', () => {
  it('issues 18-digit codes starting with 28, single use, with an expiry; refuses unknown behaviours', async () => {
    const first = await code('pay');
    expect(first.status).toBe(200);
    expect(first.json.authCode).toMatch(/^28\d{16}$/);
    expect(first.json.expiresAt).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    expect((await code('pay')).json.authCode).not.toBe(first.json.authCode);
    expect((await code('teleport')).status).toBe(400);
    expect((await code('pay', { ttlSeconds: 0 })).status).toBe(400);
  });

  it('pays at once: 10000, signed, with the payment and never the auth code', async () => {
    const { authCode } = (await code('pay', { buyerLogonId: 'buy***@example.com' })).json;
    const answer = await pay(authCode);
    expect(answer.inner).toMatchObject({
      code: '10000',
      msg: 'Success',
      total_amount: '6.60',
      receipt_amount: '6.60',
      buyer_logon_id: 'buy***@example.com',
    });
    expect(answer.inner.gmt_payment).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    expect(answer.body).not.toContain(authCode);
    expect(rsa2Verify(answer.signedText, answer.sign!, app.credentials.alipayPublicKey!)).toBe(true);
    expect((await pay(authCode)).inner).toMatchObject({
      code: '40004',
      sub_code: 'ACQ.PAYMENT_AUTH_CODE_INVALID',
    });
  });

  it('needs the password: 10003 WAIT_BUYER_PAY until the control API confirms', async () => {
    const { authCode } = (await code('password')).json;
    const outTradeNo = `B-${++sequence}`;
    const answer = await pay(authCode, outTradeNo);
    expect(answer.inner).toMatchObject({ code: '10003', out_trade_no: outTradeNo, total_amount: '6.60' });
    expect(answer.inner.gmt_payment).toBeUndefined();
    expect((await app.call('alipay.trade.query', { out_trade_no: outTradeNo })).inner.trade_status).toBe(
      'WAIT_BUYER_PAY',
    );
    await controlJson(`${sandbox.controlUrl}/trades/${app.appId}/${outTradeNo}/pay`, {});
    expect((await app.call('alipay.trade.query', { out_trade_no: outTradeNo })).inner.trade_status).toBe(
      'TRADE_SUCCESS',
    );
  });

  it('refuses an expired code, a code of another shape, and insufficient balance (no trade made)', async () => {
    const { authCode } = (await code('pay', { ttlSeconds: 1 })).json;
    await controlJson(`${sandbox.controlUrl}/clock`, { offsetMs: 1_500 });
    try {
      expect((await pay(authCode)).inner.sub_code).toBe('ACQ.PAYMENT_AUTH_CODE_INVALID');
    } finally {
      await controlJson(`${sandbox.controlUrl}/clock`, { offsetMs: 0 });
    }
    expect((await pay('131234567890123456')).inner.sub_code).toBe('ACQ.PAYMENT_AUTH_CODE_INVALID');
    const poor = `B-${++sequence}`;
    expect((await pay((await code('insufficient')).json.authCode, poor)).inner).toMatchObject({
      code: '40004',
      sub_code: 'ACQ.BUYER_BALANCE_NOT_ENOUGH',
    });
    expect((await app.call('alipay.trade.query', { out_trade_no: poor })).inner.sub_code).toBe(
      'ACQ.TRADE_NOT_EXIST',
    );
  });

  it('checks scene and product_code, and refuses a second code for a waiting order', async () => {
    const { authCode } = (await code('pay')).json;
    expect((await pay(authCode, undefined, { scene: 'wave_code' })).inner.sub_code).toBe(
      'ACQ.INVALID_PARAMETER',
    );
    expect((await pay(authCode, undefined, { product_code: 'QUICK_WAP_WAY' })).inner.sub_code).toBe(
      'ACQ.INVALID_PARAMETER',
    );
    const waiting = `B-${++sequence}`;
    await pay((await code('password')).json.authCode, waiting);
    expect((await pay(authCode, waiting)).inner.sub_code).toBe('ACQ.TRADE_STATUS_ERROR');
    // Refused before the code was read: it still pays.
    expect((await pay(authCode)).inner.code).toBe('10000');
  });

  it('refuses a forged signature without spending the code', async () => {
    const { authCode } = (await code('pay')).json;
    const params = signedRequest(
      app.appId,
      'alipay.trade.pay',
      {
        out_trade_no: `B-${++sequence}`,
        scene: 'bar_code',
        auth_code: authCode,
        total_amount: '1.00',
        subject: 'x',
      },
      generateAppKeys().privateKey,
    );
    const forged = parseResponse(
      (await postForm(sandbox.gatewayUrl, params)).text,
      'alipay_trade_pay_response',
    );
    expect(forged.inner).toMatchObject({ code: '40002', sub_code: 'isv.invalid-signature' });
    expect((await pay(authCode)).inner.code).toBe('10000');
  });
});

describe('alipay emulator: trade.cancel', () => {
  it('closes an unpaid trade (action close) and refunds a paid one (action refund, TRADE_CLOSED)', async () => {
    const unpaid = `B-${++sequence}`;
    await pay((await code('never')).json.authCode, unpaid);
    expect((await app.call('alipay.trade.cancel', { out_trade_no: unpaid })).inner).toMatchObject({
      code: '10000',
      retry_flag: 'N',
      action: 'close',
      out_trade_no: unpaid,
    });
    expect((await app.call('alipay.trade.query', { out_trade_no: unpaid })).inner.trade_status).toBe(
      'TRADE_CLOSED',
    );
    const paid = `B-${++sequence}`;
    await pay((await code('pay')).json.authCode, paid);
    expect((await app.call('alipay.trade.cancel', { out_trade_no: paid })).inner).toMatchObject({
      retry_flag: 'N',
      action: 'refund',
    });
    expect((await app.call('alipay.trade.query', { out_trade_no: paid })).inner).toMatchObject({
      trade_status: 'TRADE_CLOSED',
      receipt_amount: '6.60',
    });
  });

  it('answers an order it never saw with 10000, retry_flag N and no action', async () => {
    const answer = await app.call('alipay.trade.cancel', { out_trade_no: 'NEVER-SEEN' });
    expect(answer.inner).toEqual({
      code: '10000',
      msg: 'Success',
      out_trade_no: 'NEVER-SEEN',
      retry_flag: 'N',
    });
  });
});
