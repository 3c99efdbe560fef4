/**
 * WeChat Pay APIv3 payment codes over real HTTP: the provider's codepay and reverse against the
 * emulator, whose sandbox buyers show single-use codes that expire after a minute.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PayError } from '../../../src/core/errors.ts';
import type { PaymentOrder, Provider } from '../../../src/providers/provider.ts';
import {
  codeOf as codeOfCall,
  MERCHANT,
  startWxpayHarness,
  tradeNumbers,
  type WxpayHarness,
} from '../../e2e/harness.ts';
import { backends } from '../../support/backends.ts';

const tradeNo = tradeNumbers('CP');

/** What a call failed with; the test fails if it succeeded. */
async function failure(promise: Promise<unknown>): Promise<PayError> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(outcome instanceof PayError)) throw new Error(`expected a PayError, got ${String(outcome)}`);
  return outcome;
}

describe('WeChat Pay APIv3 codepay and reverse against the emulator', () => {
  let h: WxpayHarness;
  let wxpay: Provider;
  beforeAll(async () => {
    h = await startWxpayHarness(backends[0]!);
    wxpay = h.vkPay.context.providers.get('wxpay')!;
  });
  afterAll(async () => {
    await h?.close();
  });

  const codeOf = async (behaviour: string): Promise<string> => {
    const issued = await h.control('POST', '/payment-codes', { behaviour });
    expect(issued.status).toBe(200);
    return issued.json.auth_code;
  };
  const order = (outTradeNo: string, authCode: string, totalFen = 1234): PaymentOrder => ({
    merchantId: MERCHANT,
    outTradeNo,
    totalFen,
    subject: '收银台',
    scene: 'micropay',
    notifyUrl: 'http://127.0.0.1:9/notify',
    authCode,
  });

  it("issues codes as a buyer's WeChat shows them: 18 digits, 10 to 15 first, each one new", async () => {
    const codes = await Promise.all(Array.from({ length: 20 }, () => codeOf('pays')));
    for (const code of codes) expect(code).toMatch(/^1[0-5][0-9]{16}$/);
    expect(new Set(codes).size).toBe(codes.length);
    expect((await h.control('POST', '/payment-codes', { behaviour: 'sometimes' })).status).toBe(400);
  });

  it('a buyer who pays at once: the answer is the paid transaction, and the code is spent', async () => {
    const code = await codeOf('pays');
    const no = tradeNo();
    const created = await wxpay.createPayment(order(no, code));
    expect(created.client).toEqual({ scene: 'micropay' });
    expect(created.result).toMatchObject({
      status: 'SUCCESS',
      outTradeNo: no,
      amountFen: 1234,
      mchId: h.mchId,
    });
    expect(created.result?.transactionId).toMatch(/^42000/);
    expect(JSON.stringify(created.raw)).not.toContain(code);
    const again = await failure(wxpay.createPayment(order(tradeNo(), code)));
    expect(again).toMatchObject({ code: 40001, field: 'auth_code', gatewayCode: 'AUTH_CODE_INVALID' });
    expect(again.toResult('zh').action).toContain('刷新付款码');
    expect(JSON.stringify({ message: again.message, details: again.details })).not.toContain(code);
  });

  it('refuses a code that is not a WeChat code, an unknown one and an expired one, in words for the counter', async () => {
    for (const code of ['283456789012345678', '134567890123456789']) {
      const refused = await failure(wxpay.createPayment(order(tradeNo(), code)));
      expect(refused.code).toBe(40001);
      expect(refused.gatewayCode).toBe('AUTH_CODE_INVALID');
      expect(refused.toResult('en').msg).toContain('invalid or expired');
    }
    const stale = await codeOf('pays');
    await h.control('POST', '/clock', { offsetMs: 61_000 });
    try {
      const expired = await failure(wxpay.createPayment(order(tradeNo(), stale)));
      expect(expired).toMatchObject({ code: 40001, gatewayCode: 'AUTH_CODE_INVALID' });
    } finally {
      await h.control('POST', '/clock', { offsetMs: 0 });
    }
  });

  it('a short balance is 40007 with what the cashier should ask of the buyer; no trade is left', async () => {
    const no = tradeNo();
    const short = await failure(wxpay.createPayment(order(no, await codeOf('insufficient'))));
    expect(short).toMatchObject({ code: 40007, field: 'auth_code', gatewayCode: 'NOT_ENOUGH' });
    expect(short.toResult('zh').action).toContain('更换付款方式');
    // Another code for the same order number may follow.
    const paid = await wxpay.createPayment(order(no, await codeOf('pays')));
    expect(paid.result?.status).toBe('SUCCESS');
  });

  it('a buyer who needs the password: USERPAYING until confirmed, then SUCCESS on query', async () => {
    const code = await codeOf('password');
    const no = tradeNo();
    const created = await wxpay.createPayment(order(no, code));
    expect(created.result).toMatchObject({ status: 'USERPAYING', outTradeNo: no, amountFen: 1234 });
    // The same request again is answered as the trade stands; a new code needs a new number.
    expect((await wxpay.createPayment(order(no, code))).result?.status).toBe('USERPAYING');
    expect((await failure(wxpay.createPayment(order(no, await codeOf('pays'))))).code).toBe(40001);
    expect((await wxpay.queryPayment({ merchantId: MERCHANT, outTradeNo: no })).status).toBe('USERPAYING');
    expect((await h.control('POST', `/trades/${h.mchId}/${no}/pay`)).status).toBe(200);
    const paid = await wxpay.queryPayment({ merchantId: MERCHANT, outTradeNo: no });
    expect(paid).toMatchObject({ status: 'SUCCESS', amountFen: 1234 });
  });

  it("the buyer may enter the password on the emulator's payer page instead", async () => {
    const no = tradeNo();
    await wxpay.createPayment(order(no, await codeOf('password')));
    const view = await h.control('GET', `/trades/${h.mchId}/${no}`);
    const page = await fetch(view.json.payer_page_url);
    const html = await page.text();
    expect(html).toContain('USERPAYING');
    expect(html).toContain('data-testid="pay"');
    const paid = await fetch(`${view.json.payer_page_url}/pay`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'action=pay',
      redirect: 'manual',
    });
    expect(paid.status).toBe(303);
    expect((await wxpay.queryPayment({ merchantId: MERCHANT, outTradeNo: no })).status).toBe('SUCCESS');
  });

  it('reverses a payment never confirmed (REVOKED, closed for good) and refunds a paid one', async () => {
    const waiting = tradeNo();
    await wxpay.createPayment(order(waiting, await codeOf('never')));
    expect(await wxpay.reversePayment!({ merchantId: MERCHANT, outTradeNo: waiting })).toBe('reversed');
    const revoked = await h.control('GET', `/trades/${h.mchId}/${waiting}`);
    expect(revoked.json.transaction.trade_state).toBe('REVOKED');
    expect((await wxpay.queryPayment({ merchantId: MERCHANT, outTradeNo: waiting })).status).toBe('CLOSED');
    // The buyer cannot pay it any more; reversing again is harmless.
    expect((await h.control('POST', `/trades/${h.mchId}/${waiting}/pay`)).status).toBe(400);
    expect(await wxpay.reversePayment!({ merchantId: MERCHANT, outTradeNo: waiting })).toBe('reversed');

    const paid = tradeNo();
    await wxpay.createPayment(order(paid, await codeOf('pays')));
    expect(await wxpay.reversePayment!({ merchantId: MERCHANT, outTradeNo: paid })).toBe('reversed');
    const refunded = await h.control('GET', `/trades/${h.mchId}/${paid}`);
    expect(refunded.json.transaction.trade_state).toBe('REVOKED');
    expect(refunded.json.transaction.transaction_id).toMatch(/^42000/);
  });

  it('answers reverse of an unknown order as done and refuses reverse of a trade that is no payment code', async () => {
    expect(await wxpay.reversePayment!({ merchantId: MERCHANT, outTradeNo: tradeNo() })).toBe('reversed');
    const native = tradeNo();
    await wxpay.createPayment({ ...order(native, ''), scene: 'native', authCode: null });
    const refused = await failure(wxpay.reversePayment!({ merchantId: MERCHANT, outTradeNo: native }));
    expect(refused).toMatchObject({ code: 40001, gatewayCode: 'INVALID_REQUEST' });
  });

  it('gateways without payment codes refuse the scene with 40001 before any call', async () => {
    const { refusePaymentCode } = await import('../../../src/providers/payment-codes.ts');
    expect(() => refusePaymentCode('douyin', { scene: 'micropay' })).toThrow(/does not take payment codes/);
    expect(() => refusePaymentCode('douyin', { scene: 'native' })).not.toThrow();
  });
});
