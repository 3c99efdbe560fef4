import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PayError } from '../../../src/core/errors.ts';
import { createDouyinProvider } from '../../../src/providers/douyin/index.ts';
import type { Provider } from '../../../src/providers/provider.ts';
import { type RunningDouyinSandbox, startDouyinSandbox } from '../../../src/sandbox/douyin/index.ts';

const SKU = { type: 401, tagGroupId: 'tag_group_1', imageUrl: 'https://example.com/sku.png' };
const NOTIFY = 'https://merchant.example/notify/douyin/shop1';

describe('Douyin provider against the emulator', () => {
  let emulator: RunningDouyinSandbox;
  let provider: Provider;
  let appId: string;
  const calls: string[] = [];
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  let sequence = 0;
  const next = () => `DYOP${Date.now().toString(36)}${sequence++}`;

  const control = async (path: string, body: unknown) =>
    (
      await fetch(`${emulator.controlUrl}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    ).json() as Promise<Record<string, unknown>>;
  const codeOf = (promise: Promise<unknown>) =>
    promise.then(
      () => 0,
      (error) => (error instanceof PayError ? { code: error.code, gatewayCode: error.gatewayCode } : -1),
    );
  const placedOrder = async (totalFen: number, expireAt?: Date) => {
    const outTradeNo = next();
    const created = await provider.createPayment({
      merchantId: 'shop1',
      outTradeNo,
      totalFen,
      subject: 'coins',
      scene: 'miniprogram',
      notifyUrl: NOTIFY,
      ...(expireAt ? { expireAt } : {}),
    });
    await control('/request-order', created.client);
    return outTradeNo;
  };

  beforeAll(async () => {
    emulator = await startDouyinSandbox({ timeFactor: 0.001 });
    const app = emulator.gateway.registerApp({
      appPublicKeyPem: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      refundMode: 'manual',
    });
    appId = app.appId;
    provider = createDouyinProvider({
      merchants: [
        {
          merchantId: 'shop1',
          appId,
          appSecret: app.appSecret,
          privateKey: keys.privateKey,
          keyVersion: app.keyVersion,
          platformPublicKey: app.platformPublicKeyPem,
          sku: SKU,
          baseUrl: emulator.url,
          timeoutMs: 2_000,
        },
      ],
      onRequest: (event) => calls.push(event.api),
    });
  });
  afterAll(async () => {
    await emulator?.close();
  });

  it('gets one client_token for many calls, and a new one when the platform says it is invalid', async () => {
    const outTradeNo = await placedOrder(100);
    calls.length = 0;
    await Promise.all([1, 2, 3].map(() => provider.queryPayment({ merchantId: 'shop1', outTradeNo })));
    expect(calls.filter((api) => api === 'client_token')).toHaveLength(1);
    emulator.gateway.tokens.clear();
    calls.length = 0;
    const result = await provider.queryPayment({ merchantId: 'shop1', outTradeNo });
    expect(result).toMatchObject({ status: 'NOTPAY', amountFen: 100, outTradeNo });
    expect(calls).toEqual(['order_query', 'client_token', 'order_query']);
  });

  it('maps the platform err_no to unified codes', async () => {
    const outTradeNo = await placedOrder(100);
    expect(await codeOf(provider.queryPayment({ merchantId: 'shop1', outTradeNo: 'NOSUCHORDER1' }))).toEqual({
      code: 40005,
      gatewayCode: '20000',
    });
    await control('/faults', { api: 'order_query', errNo: 12001, count: 1 });
    expect(await codeOf(provider.queryPayment({ merchantId: 'shop1', outTradeNo }))).toEqual({
      code: 40008,
      gatewayCode: '12001',
    });
    await control('/faults', { api: 'refund_create', errNo: 2100004, count: 1 });
    emulator.gateway.pay(appId, outTradeNo);
    const busy = provider.refund({
      merchantId: 'shop1',
      outTradeNo,
      outRefundNo: `${outTradeNo}R`,
      refundFen: 10,
      totalFen: 100,
      notifyUrl: NOTIFY,
    });
    expect(await codeOf(busy)).toEqual({ code: 40010, gatewayCode: '2100004' });
  });

  it('the platform refuses a refund over what is left of the payment, and a payment after expiry', async () => {
    const outTradeNo = await placedOrder(300);
    emulator.gateway.pay(appId, outTradeNo);
    const refund = (outRefundNo: string, refundFen: number) =>
      provider.refund({
        merchantId: 'shop1',
        outTradeNo,
        outRefundNo,
        refundFen,
        totalFen: 300,
        notifyUrl: NOTIFY,
      });
    expect((await refund(`${outTradeNo}R1`, 200)).status).toBe('PROCESSING');
    expect(await codeOf(refund(`${outTradeNo}R2`, 101))).toEqual({ code: 40001, gatewayCode: '20002' });
    expect(
      await provider.queryRefund({ merchantId: 'shop1', outTradeNo, outRefundNo: `${outTradeNo}R1` }),
    ).toMatchObject({
      status: 'PROCESSING',
      refundFen: 200,
    });
    emulator.gateway.settleRefund(appId, `${outTradeNo}R1`, 'FAIL');
    // A failed refund gives its amount back.
    expect((await refund(`${outTradeNo}R3`, 300)).status).toBe('PROCESSING');

    const lapsing = await placedOrder(100, new Date(Date.now() + 60_000));
    await control('/clock', { offsetMs: 61_000 });
    try {
      expect(() => emulator.gateway.pay(appId, lapsing)).toThrow(/expired/);
      expect(await provider.queryPayment({ merchantId: 'shop1', outTradeNo: lapsing })).toMatchObject({
        status: 'CLOSED',
      });
      expect(await provider.closePayment({ merchantId: 'shop1', outTradeNo: lapsing })).toBe('closed');
    } finally {
      await control('/clock', { offsetMs: 0 });
    }
  });

  it('the platform refuses a server call signed with another key, and an order whose amounts disagree', async () => {
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const app = emulator.gateway.app(appId);
    const forged = createDouyinProvider({
      merchants: [
        {
          merchantId: 'shop1',
          appId,
          appSecret: app.appSecret,
          privateKey: stranger.privateKey,
          keyVersion: '1',
          platformPublicKey: app.platformPublicKeyPem,
          sku: SKU,
          baseUrl: emulator.url,
        },
      ],
    });
    expect(await codeOf(forged.queryPayment({ merchantId: 'shop1', outTradeNo: 'ANYORDER01' }))).toEqual({
      code: 40002,
      gatewayCode: '11004',
    });
    // An answer that does not verify with the configured platform key is refused too.
    const wrongPlatform = createDouyinProvider({
      merchants: [
        {
          merchantId: 'shop1',
          appId,
          appSecret: app.appSecret,
          privateKey: keys.privateKey,
          keyVersion: '1',
          platformPublicKey: stranger.publicKey,
          sku: SKU,
          baseUrl: emulator.url,
        },
      ],
    });
    expect(
      await codeOf(wrongPlatform.queryPayment({ merchantId: 'shop1', outTradeNo: 'ANYORDER01' })),
    ).toMatchObject({
      code: 40002,
    });
    const created = await provider.createPayment({
      merchantId: 'shop1',
      outTradeNo: next(),
      totalFen: 100,
      subject: 'coins',
      scene: 'miniprogram',
      notifyUrl: 'http://merchant.example/notify',
    });
    // payNotifyUrl must be HTTPS.
    expect((await control('/request-order', created.client)).err_no).toBe(2100005);
    expect(
      await codeOf(
        provider.createPayment({
          merchantId: 'shop1',
          outTradeNo: next(),
          totalFen: 100,
          subject: 'coins',
          scene: 'h5',
          notifyUrl: NOTIFY,
        }),
      ),
    ).toMatchObject({ code: 40001 });
  });
});
