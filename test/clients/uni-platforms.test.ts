/**
 * The uni-app client in a Douyin mini app against the real service and the Douyin emulator (the
 * trade system's tt.requestOrder, whose signature the emulator checks, and the legacy tt.pay), and
 * the client-side steps of WeChat virtual payment and Apple IAP.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUniPayClient, providersFor } from '../../src/clients/uni/index.ts';
import { buildApp } from '../../src/http/app.ts';
import { createDouyinProvider } from '../../src/providers/douyin/index.ts';
import { type RunningDouyinSandbox, startDouyinSandbox } from '../../src/sandbox/douyin/index.ts';
import type { VkPay } from '../../src/vk-pay.ts';
import { API_APP, eventually, MERCHANT, tradeNumbers } from '../e2e/harness.ts';
import { backends } from '../support/backends.ts';
import { BACKEND, type PlatformHandler, platformCalls, recordedPlatform } from './recorded.ts';

const LEGACY = 'shop-legacy';
const LEGACY_APP = { appId: 'app-legacy', merchantId: LEGACY, secret: 'y'.repeat(40) };
const TOUTIAO = { uniPlatform: 'mp-toutiao', osName: 'android', deviceType: 'phone' };

describe.each(backends)('the uni-app client in a Douyin mini app on $name', (backend) => {
  let emulator: RunningDouyinSandbox;
  let vkPay: VkPay;
  let app: FastifyInstance;
  let tradeAppId = '';
  const next = tradeNumbers('UDY');

  // biome-ignore lint/suspicious/noExplicitAny: the emulator's answers are read freely
  const control = async (path: string, body?: unknown): Promise<{ status: number; json: any }> => {
    const response = await fetch(`${emulator.controlUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body ?? {}),
    });
    return { status: response.status, json: await response.json() };
  };

  beforeAll(async () => {
    emulator = await startDouyinSandbox({ timeFactor: 0.001 });
    const appKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const trade = await control('/apps', {
      appPublicKeyPem: appKeys.publicKey.export({ type: 'spki', format: 'pem' }),
      keyVersion: '2',
    });
    tradeAppId = trade.json.appId;
    const ecpay = (await control('/apps', { api: 'ecpay' })).json;
    const provider = createDouyinProvider({
      merchants: [
        {
          merchantId: MERCHANT,
          appId: trade.json.appId,
          appSecret: trade.json.appSecret,
          privateKey: appKeys.privateKey,
          keyVersion: '2',
          platformPublicKey: trade.json.platformPublicKeyPem,
          sku: { type: 401, tagGroupId: 'tag_group_1', imageUrl: 'https://example.com/sku.png' },
          baseUrl: emulator.url,
          timeoutMs: 2_000,
        },
        {
          merchantId: LEGACY,
          api: 'ecpay',
          appId: ecpay.appId,
          salt: ecpay.salt,
          token: ecpay.token,
          baseUrl: emulator.url,
          timeoutMs: 2_000,
        },
      ],
    });
    vkPay = await backend.open({ providers: [provider] });
    app = await buildApp({ vkPay, apps: [API_APP, LEGACY_APP] });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    vkPay.context.publicUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(async () => {
    await emulator?.close();
    await app?.close();
    await vkPay?.close();
  });

  function client(handlers: Record<string, PlatformHandler>, apiApp = API_APP) {
    const recorded = recordedPlatform({
      serviceUrl: vkPay.context.publicUrl!,
      app: apiApp,
      systemInfo: TOUTIAO,
      handlers,
    });
    return { uni: createUniPayClient({ backend: BACKEND, uni: recorded.global }), recorded };
  }
  const body = () => ({
    provider: 'douyin',
    out_trade_no: next(),
    total_fee: 600,
    subject: 'coins',
    type: 'goods',
  });

  it('trade system: requestOrder gets the signed order the platform accepts, then the cashier; paid', async () => {
    const order = body();
    const { uni, recorded } = client({
      requestOrder: async (args) => {
        const placed = await control('/request-order', args);
        expect(placed.status).toBe(200);
        return { ok: true, answer: { orderId: placed.json.orderId } };
      },
      getOrderPayment: async (args) => {
        expect((await control(`/orders/${tradeAppId}/${order.out_trade_no}/pay`)).status).toBe(200);
        return { ok: true, answer: { orderId: args.orderId, outOrderNo: order.out_trade_no } };
      },
    });
    const result = await uni.pay({ body: order }, { confirm: { intervalMs: 20, timeoutMs: 5_000 } });
    expect(recorded.backend[0]!.body).toMatchObject({ context: { platform: 'mp-toutiao', os: 'android' } });
    const payment = (recorded.backend[0]!.answer as { data: { payment: Record<string, string> } }).data
      .payment;
    const calls = platformCalls(recorded);
    expect(calls[0]).toEqual({
      api: 'requestOrder',
      args: { data: payment.data, byteAuthorization: payment.byteAuthorization },
    });
    expect(calls[1]).toEqual({ api: 'getOrderPayment', args: { orderId: expect.any(String) } });
    expect(result).toMatchObject({ outcome: 'paid', title: '支付成功', outTradeNo: order.out_trade_no });
    await eventually(
      () => vkPay.getOrder(MERCHANT, order.out_trade_no),
      (found) => found.status === 'SUCCESS',
    );
  });

  it('trade system: a refused order and a cancelled cashier read in the buyer words', async () => {
    const refused = client({
      requestOrder: async (args) => {
        // The data changed on its way: the platform refuses the signature.
        const placed = await control('/request-order', { ...args, data: `${args.data} ` });
        return { ok: false, answer: { errNo: placed.json.err_no, errMsg: 'requestOrder:fail signature' } };
      },
    });
    expect(await refused.uni.pay({ body: body() })).toMatchObject({
      outcome: 'failed',
      situation: 'failed',
      platform: { api: 'requestOrder', code: 11004 },
    });
    const cancelled = client({
      requestOrder: async (args) => ({
        ok: true,
        answer: { orderId: (await control('/request-order', args)).json.orderId },
      }),
      getOrderPayment: () => ({ ok: false, answer: { errNo: 4, errMsg: 'getOrderPayment:fail cancel' } }),
    });
    expect(await cancelled.uni.pay({ body: body() })).toMatchObject({ outcome: 'cancelled' });
  });

  it("legacy guaranteed payment: requestPayment's orderInfo {order_id, order_token} and service 5; tt.pay's codes", async () => {
    const codes: unknown[] = [];
    for (const code of [0, 4, 1]) {
      const { uni, recorded } = client(
        {
          requestPayment: async (args) => {
            if (code === 0)
              expect((await control('/tt-pay', { orderInfo: args.orderInfo })).status).toBe(200);
            return { ok: true, answer: { code } };
          },
        },
        LEGACY_APP,
      );
      const result = await uni.pay({ body: body() });
      const payment = (recorded.backend[0]!.answer as { data: { payment: Record<string, unknown> } }).data
        .payment;
      expect(platformCalls(recorded)).toEqual([
        {
          api: 'requestPayment',
          args: { provider: 'toutiao', orderInfo: payment.orderInfo, service: 5 },
        },
      ]);
      expect(payment.orderInfo).toEqual({ order_id: expect.any(String), order_token: expect.any(String) });
      codes.push([result.outcome, result.situation, result.platform?.code]);
    }
    expect(codes).toEqual([
      ['paid', 'paid', 0],
      ['cancelled', 'cancelled', 4],
      ['failed', 'timeout', 1],
    ]);
  });
});

describe('the uni-app client: WeChat virtual payment and Apple IAP', () => {
  const virtual = {
    scene: 'miniprogram' as const,
    mode: 'short_series_goods' as const,
    signData: '{"offerId":"1450000000","buyQuantity":1,"env":0}',
    paySig: 'a'.repeat(64),
    signature: 'b'.repeat(64),
  };

  it('virtual payment: requestVirtualPayment gets the four signed fields; refused on iOS', async () => {
    const android = recordedPlatform({
      systemInfo: { uniPlatform: 'mp-weixin', osName: 'android' },
      handlers: {
        requestVirtualPayment: () => ({
          ok: false,
          answer: { errMsg: 'requestVirtualPayment:fail cancel', errCode: -2 },
        }),
      },
    });
    const uni = createUniPayClient({ uni: android.global });
    expect(
      await uni.pay({ start: { scene: 'miniprogram', payment: virtual }, outTradeNo: 'V1' }),
    ).toMatchObject({
      outcome: 'cancelled',
      outTradeNo: 'V1',
    });
    const { scene: _scene, ...args } = virtual;
    expect(platformCalls(android)).toEqual([{ api: 'requestVirtualPayment', args }]);

    const ios = recordedPlatform({ systemInfo: { uniPlatform: 'mp-weixin', osName: 'ios' } });
    const refused = await createUniPayClient({ uni: ios.global, lang: 'en' }).pay({
      start: { scene: 'miniprogram', payment: virtual },
    });
    expect(refused).toMatchObject({
      outcome: 'failed',
      situation: 'notAvailable',
      platform: { code: 40009 },
    });
    expect(platformCalls(ios)).toEqual([]);
  });

  it('Apple IAP: appleiap with productid and the appAccountToken as username; the transaction handed over', async () => {
    const handedOver: unknown[] = [];
    const recorded = recordedPlatform({
      systemInfo: { uniPlatform: 'app', osName: 'ios' },
      handlers: {
        requestPayment: () => ({
          ok: true,
          answer: {
            transactionIdentifier: '2000000123456789',
            transactionReceipt: 'MIIT...',
            transactionState: '1',
          },
        }),
      },
      route: (path, body) => {
        if (path !== '/iap') return undefined;
        handedOver.push(body);
        return {
          statusCode: 200,
          data: {
            code: 0,
            msg: 'ok',
            data: { order: { out_trade_no: 'IAP1', status: 'SUCCESS' }, outcome: 'applied' },
          },
        };
      },
    });
    const uni = createUniPayClient({ backend: BACKEND, uni: recorded.global });
    const appAccountToken = '6f2a9c1e-9a7d-4c55-8f3e-2b1f0c9d7a11';
    const result = await uni.pay({
      start: { scene: 'app', payment: { scene: 'app', productId: 'coins_60', appAccountToken } },
      outTradeNo: 'IAP1',
    });
    expect(platformCalls(recorded)).toEqual([
      {
        api: 'requestPayment',
        args: {
          provider: 'appleiap',
          orderInfo: { productid: 'coins_60', username: appAccountToken, quantity: 1 },
        },
      },
    ]);
    expect(handedOver).toEqual([
      { provider: 'appleiap', transaction_id: '2000000123456789', out_trade_no: 'IAP1' },
    ]);
    expect(result).toMatchObject({ outcome: 'paid', title: '支付成功' });

    const cancelled = recordedPlatform({
      systemInfo: { uniPlatform: 'app', osName: 'ios' },
      handlers: { requestPayment: () => ({ ok: false, answer: { errMsg: 'requestPayment:fail', code: 2 } }) },
    });
    const none = await createUniPayClient({ backend: BACKEND, uni: cancelled.global }).pay({
      start: { scene: 'app', payment: { scene: 'app', productId: 'coins_60', appAccountToken } },
    });
    expect(none.outcome).toBe('cancelled');
  });
});

describe('the providers a uni-app platform can pay with', () => {
  it('offers what works where the buyer is, as the plugin cashier does', () => {
    const on = (uniPlatform: string, osName = 'android') =>
      createUniPayClient({
        uni: recordedPlatform({ systemInfo: { uniPlatform, osName } }).global,
      }).providers();
    expect(on('mp-weixin')).toEqual(['wxpay', 'wxpay-virtual']);
    expect(on('mp-alipay')).toEqual(['alipay']);
    expect(on('mp-toutiao')).toEqual(['douyin']);
    expect(on('app')).toEqual(['wxpay', 'alipay']);
    expect(on('app', 'ios')).toEqual(['wxpay', 'alipay', 'appleiap']);
    expect(on('web', 'windows')).toEqual(['wxpay', 'alipay']);
    expect(on('mp-baidu')).toEqual([]);
    expect(providersFor({ platform: 'app-plus', os: 'ios' })).toContain('appleiap');
  });
});
