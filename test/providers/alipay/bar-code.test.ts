/**
 * Payment-code payments (alipay.trade.pay, scene=bar_code) and their reversal (trade.cancel)
 * through the provider, over real HTTP against the Alipay emulator.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PAYMENT_CODE_REFUSALS } from '../../../src/core/errors.ts';
import { createAlipayProvider } from '../../../src/providers/alipay/index.ts';
import type { PaymentOrder } from '../../../src/providers/provider.ts';
import { type RunningAlipaySandbox, startAlipaySandbox } from '../../../src/sandbox/alipay/index.ts';
import {
  controlJson,
  generateAppKeys,
  type NotifyReceiver,
  startNotifyReceiver,
  waitFor,
} from '../../sandbox/alipay/helpers.ts';
import { payError } from './support/fixtures.ts';

let sandbox: RunningAlipaySandbox;
let receiver: NotifyReceiver;
let alipay: ReturnType<typeof createAlipayProvider>;
let appId: string;
let sellerId: string;
let sequence = 0;

beforeAll(async () => {
  sandbox = await startAlipaySandbox({ timeFactor: 0.001 });
  receiver = await startNotifyReceiver();
  const keys = generateAppKeys();
  const { json } = await controlJson<Record<string, string>>(`${sandbox.controlUrl}/apps`, {
    keyMode: 'publicKey',
    appPublicKey: keys.publicKeyPem,
  });
  appId = json.appId!;
  sellerId = json.sellerId!;
  alipay = createAlipayProvider({
    merchants: [
      {
        merchantId: 'm1',
        appId,
        sellerId,
        privateKey: keys.privateKeyPem,
        alipayPublicKey: json.alipayPublicKey!,
        baseUrl: sandbox.gatewayUrl,
        timeoutMs: 2_000,
        retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
      },
    ],
  });
});
afterEach(async () => {
  await controlJson(`${sandbox.controlUrl}/faults`, undefined, 'DELETE');
});
afterAll(async () => {
  await receiver.close();
  await sandbox.close();
});

async function paymentCode(behaviour: string, extra: Record<string, unknown> = {}): Promise<string> {
  const { status, json } = await controlJson<{ authCode: string }>(`${sandbox.controlUrl}/payment-codes`, {
    behaviour,
    ...extra,
  });
  expect(status).toBe(200);
  expect(json.authCode).toMatch(/^(2[5-9]|30)\d{14,22}$/);
  return json.authCode;
}

function counterOrder(authCode: string, overrides: Partial<PaymentOrder> = {}): PaymentOrder {
  return {
    merchantId: 'm1',
    outTradeNo: `BAR-${Date.now()}-${++sequence}`,
    totalFen: 1234,
    subject: '门店收款',
    scene: 'micropay',
    notifyUrl: receiver.url,
    authCode,
    ...overrides,
  };
}

const tradeOf = async (outTradeNo: string) =>
  (await controlJson<Record<string, unknown>>(`${sandbox.controlUrl}/trades/${appId}/${outTradeNo}`)).json;

describe('alipay payment-code payments', () => {
  it('a code paid at once answers SUCCESS with the amount and ids, and the auth code is not kept', async () => {
    const authCode = await paymentCode('pay');
    const order = counterOrder(authCode);
    const created = await alipay.createPayment(order);
    expect(created.client).toEqual({ scene: 'micropay' });
    expect(created.result).toMatchObject({
      merchantId: 'm1',
      provider: 'alipay',
      outTradeNo: order.outTradeNo,
      status: 'SUCCESS',
      amountFen: 1234,
      appId,
      source: 'query',
    });
    expect(created.result!.transactionId).toMatch(/^\d{28}$/);
    expect(created.result!.paidAt).toBeInstanceOf(Date);
    expect(JSON.stringify(created.raw)).not.toContain(authCode);
    expect(JSON.stringify(created.result!.raw)).not.toContain(authCode);
    // Paid: the notification goes out, as for any payment.
    const note = await waitFor(() =>
      receiver.received.find((entry) => entry.params.out_trade_no === order.outTradeNo),
    );
    expect(note.params.trade_status).toBe('TRADE_SUCCESS');
    const query = await alipay.queryPayment({ merchantId: 'm1', outTradeNo: order.outTradeNo });
    expect(query).toMatchObject({ status: 'SUCCESS', transactionId: created.result!.transactionId });
  });

  it('a code needing the password answers USERPAYING; after confirmation a query says SUCCESS', async () => {
    const order = counterOrder(await paymentCode('password'));
    const created = await alipay.createPayment(order);
    expect(created.result).toMatchObject({ status: 'USERPAYING', amountFen: 1234, paidAt: null });
    expect(created.result!.transactionId).toMatch(/^\d{28}$/);
    // Asked as a payment-code order, the waiting trade reads as the buyer confirming; asked without
    // the scene (as for a page or QR trade nobody has paid), WAIT_BUYER_PAY stays unpaid.
    expect(
      await alipay.queryPayment({ merchantId: 'm1', outTradeNo: order.outTradeNo, scene: 'micropay' }),
    ).toMatchObject({ status: 'USERPAYING', amountFen: 1234, paidAt: null });
    expect((await alipay.queryPayment({ merchantId: 'm1', outTradeNo: order.outTradeNo })).status).toBe(
      'NOTPAY',
    );
    expect(
      (await alipay.queryPayment({ merchantId: 'm1', outTradeNo: order.outTradeNo, scene: 'native' })).status,
    ).toBe('NOTPAY');
    const confirmed = await controlJson(`${sandbox.controlUrl}/trades/${appId}/${order.outTradeNo}/pay`, {});
    expect(confirmed.status).toBe(200);
    expect(await alipay.queryPayment({ merchantId: 'm1', outTradeNo: order.outTradeNo })).toMatchObject({
      status: 'SUCCESS',
      amountFen: 1234,
    });
    await waitFor(() => receiver.received.find((entry) => entry.params.out_trade_no === order.outTradeNo));
  });

  it('a buyer who never confirms is reversed: the trade closes and the query says CLOSED', async () => {
    const order = counterOrder(await paymentCode('never'));
    expect((await alipay.createPayment(order)).result!.status).toBe('USERPAYING');
    // The control API cannot confirm for this buyer.
    expect(
      (await controlJson(`${sandbox.controlUrl}/trades/${appId}/${order.outTradeNo}/pay`, {})).status,
    ).toBe(409);
    expect(await alipay.reversePayment!({ merchantId: 'm1', outTradeNo: order.outTradeNo })).toBe('reversed');
    expect(await tradeOf(order.outTradeNo)).toMatchObject({ tradeStatus: 'TRADE_CLOSED', refundedFen: 0 });
    expect((await alipay.queryPayment({ merchantId: 'm1', outTradeNo: order.outTradeNo })).status).toBe(
      'CLOSED',
    );
  });

  it('reversing a paid trade refunds it in full: TRADE_CLOSED, still read as paid', async () => {
    const order = counterOrder(await paymentCode('pay'));
    await alipay.createPayment(order);
    const cancelled = await alipay.cancelPayment({ merchantId: 'm1', outTradeNo: order.outTradeNo });
    expect(cancelled.action).toBe('refund');
    expect(await tradeOf(order.outTradeNo)).toMatchObject({ tradeStatus: 'TRADE_CLOSED', refundedFen: 1234 });
    // TRADE_CLOSED after payment is a paid-then-refunded trade, never "unpaid".
    expect((await alipay.queryPayment({ merchantId: 'm1', outTradeNo: order.outTradeNo })).status).toBe(
      'SUCCESS',
    );
  });

  it('reversing an order the gateway never saw succeeds with nothing to do', async () => {
    expect(await alipay.reversePayment!({ merchantId: 'm1', outTradeNo: `NEVER-${++sequence}` })).toBe(
      'reversed',
    );
  });

  it('a reused code is refused (40001 ACQ.PAYMENT_AUTH_CODE_INVALID) and pays nothing twice', async () => {
    const authCode = await paymentCode('pay');
    await alipay.createPayment(counterOrder(authCode));
    const second = counterOrder(authCode);
    const error = await payError(alipay.createPayment(second));
    expect(error).toMatchObject({
      code: 40001,
      field: 'auth_code',
      gatewayCode: 'ACQ.PAYMENT_AUTH_CODE_INVALID',
      outcomeUnknown: false,
      text: { actionZh: PAYMENT_CODE_REFUSALS.code_invalid.actionZh },
    });
    expect(error.message).not.toContain(authCode);
    expect((await alipay.queryPayment({ merchantId: 'm1', outTradeNo: second.outTradeNo })).status).toBe(
      'NOTPAY',
    );
  });

  it('an expired code is refused', async () => {
    const authCode = await paymentCode('pay', { ttlSeconds: 1 });
    await controlJson(`${sandbox.controlUrl}/clock`, { offsetMs: 2_000 });
    try {
      const error = await payError(alipay.createPayment(counterOrder(authCode)));
      expect(error).toMatchObject({ code: 40001, gatewayCode: 'ACQ.PAYMENT_AUTH_CODE_INVALID' });
    } finally {
      await controlJson(`${sandbox.controlUrl}/clock`, { offsetMs: 0 });
    }
  });

  it('a code that is no Alipay code at all is refused the same way', async () => {
    const error = await payError(alipay.createPayment(counterOrder('134567890123456789')));
    expect(error).toMatchObject({ code: 40001, gatewayCode: 'ACQ.PAYMENT_AUTH_CODE_INVALID' });
  });

  it('insufficient balance is refused (40007) and leaves the order free for another code', async () => {
    const order = counterOrder(await paymentCode('insufficient'));
    const error = await payError(alipay.createPayment(order));
    expect(error).toMatchObject({
      code: 40007,
      field: 'auth_code',
      gatewayCode: 'ACQ.BUYER_BALANCE_NOT_ENOUGH',
      outcomeUnknown: false,
      text: { actionZh: PAYMENT_CODE_REFUSALS.insufficient_balance.actionZh },
    });
    const retried = await alipay.createPayment({ ...order, authCode: await paymentCode('pay') });
    expect(retried.result!.status).toBe('SUCCESS');
  });

  it('a paid order is refused with 40006 and the new code is not spent', async () => {
    const order = counterOrder(await paymentCode('pay'));
    await alipay.createPayment(order);
    const spare = await paymentCode('pay');
    expect(await payError(alipay.createPayment({ ...order, authCode: spare }))).toMatchObject({
      code: 40006,
      gatewayCode: 'ACQ.TRADE_HAS_SUCCESS',
    });
    expect((await alipay.createPayment(counterOrder(spare))).result!.status).toBe('SUCCESS');
  });

  it('a system error is an unknown outcome: sent once, then settled by query and cancel', async () => {
    const order = counterOrder(await paymentCode('pay'));
    await controlJson(`${sandbox.controlUrl}/faults`, {
      kind: 'unknownError',
      method: 'alipay.trade.pay',
      afterHandling: true,
      times: 'always',
    });
    const error = await payError(alipay.createPayment(order));
    expect(error).toMatchObject({ code: 40010, outcomeUnknown: true });
    await controlJson(`${sandbox.controlUrl}/faults`, undefined, 'DELETE');
    // One attempt only: the trade was paid once, with the one code.
    expect((await alipay.queryPayment({ merchantId: 'm1', outTradeNo: order.outTradeNo })).status).toBe(
      'SUCCESS',
    );
    expect(await alipay.reversePayment!({ merchantId: 'm1', outTradeNo: order.outTradeNo })).toBe('reversed');
    expect(await tradeOf(order.outTradeNo)).toMatchObject({ tradeStatus: 'TRADE_CLOSED', refundedFen: 1234 });
  });

  it('a forged answer signature is refused with the outcome unknown', async () => {
    const order = counterOrder(await paymentCode('pay'));
    await controlJson(`${sandbox.controlUrl}/faults`, { kind: 'badSignature', method: 'alipay.trade.pay' });
    expect(await payError(alipay.createPayment(order))).toMatchObject({ code: 40002, outcomeUnknown: true });
  });

  it('a request the gateway cannot verify is refused (40002), and its echo hides the auth code', async () => {
    const forger = createAlipayProvider({
      merchants: [
        {
          merchantId: 'm1',
          appId,
          privateKey: generateAppKeys().privateKeyPem,
          alipayPublicKey: (await controlJson<Record<string, string>>(`${sandbox.controlUrl}/apps/${appId}`))
            .json.alipayPublicKey!,
          baseUrl: sandbox.gatewayUrl,
          retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
        },
      ],
    });
    const authCode = await paymentCode('pay');
    const error = await payError(forger.createPayment(counterOrder(authCode)));
    expect(error).toMatchObject({ code: 40002, gatewayCode: 'isv.invalid-signature' });
    expect(JSON.stringify({ message: error.message, details: error.details })).not.toContain(authCode);
    // The forged request spent nothing: the code still pays.
    expect((await alipay.createPayment(counterOrder(authCode))).result!.status).toBe('SUCCESS');
  });

  it('a cancel that meets a system error stays unknown until a cancel answers', async () => {
    const order = counterOrder(await paymentCode('never'));
    await alipay.createPayment(order);
    await controlJson(`${sandbox.controlUrl}/faults`, {
      kind: 'businessError',
      method: 'alipay.trade.cancel',
      subCode: 'ACQ.SYSTEM_ERROR',
      times: 'always',
    });
    expect(
      await payError(alipay.reversePayment!({ merchantId: 'm1', outTradeNo: order.outTradeNo })),
    ).toMatchObject({
      code: 40010,
      outcomeUnknown: true,
    });
    await controlJson(`${sandbox.controlUrl}/faults`, undefined, 'DELETE');
    expect(await alipay.reversePayment!({ merchantId: 'm1', outTradeNo: order.outTradeNo })).toBe('reversed');
  });
});
