import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPayError, PayError } from '../../../src/core/errors.ts';
import {
  createWxpayVirtualProvider,
  type WxpayVirtualMerchantConfig,
} from '../../../src/providers/wxpay-virtual/index.ts';
import {
  type RunningWxVirtualSandbox,
  startWxVirtualSandbox,
} from '../../../src/sandbox/wxpay-virtual/index.ts';

const sha1 = (...parts: string[]) => createHash('sha1').update(parts.sort().join('')).digest('hex');

async function failure(promise: Promise<unknown>): Promise<PayError> {
  try {
    await promise;
  } catch (error) {
    if (isPayError(error)) return error;
    throw error;
  }
  throw new Error('expected a PayError');
}

describe('the wxpay-virtual provider against the emulator', () => {
  let emulator: RunningWxVirtualSandbox;
  // biome-ignore lint/suspicious/noExplicitAny: the emulator's registration answer
  let mp: Record<string, any>;
  let config: WxpayVirtualMerchantConfig;
  const control = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${emulator.controlUrl}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body ?? {}),
    });
    return response.json() as Promise<Record<string, unknown>>;
  };

  beforeAll(async () => {
    emulator = await startWxVirtualSandbox({ timeFactor: 0.001 });
    mp = await control('POST', '/apps', {});
    config = {
      merchantId: 'm1',
      appId: mp.appId,
      appSecret: mp.appSecret,
      offerId: mp.offerId,
      appKey: mp.appKey,
      sandboxAppKey: mp.sandboxAppKey,
      env: 1,
      pushToken: mp.pushToken,
      encodingAesKey: mp.encodingAesKey,
      baseUrl: emulator.url,
      timeoutMs: 1_000,
    };
  });
  afterAll(() => emulator?.close());

  it('maps errcodes to unified codes and keeps the gateway code', async () => {
    const provider = createWxpayVirtualProvider({ merchants: [config] });
    await control('POST', '/faults', { appId: mp.appId, api: 'query_order', errcode: -1 });
    const busy = await failure(provider.queryPayment({ merchantId: 'm1', outTradeNo: 'VPNOTHERE01' }));
    expect([busy.code, busy.gatewayCode]).toEqual([40010, '-1']);
    await control('POST', '/faults', { appId: mp.appId, api: 'query_order', errcode: 268490015 });
    const limited = await failure(provider.queryPayment({ merchantId: 'm1', outTradeNo: 'VPNOTHERE01' }));
    expect(limited.code).toBe(40008);
    // Not held at WeChat: nobody paid it.
    expect((await provider.queryPayment({ merchantId: 'm1', outTradeNo: 'VPNOTHERE01' })).status).toBe(
      'NOTPAY',
    );
    const refund = await provider.queryRefund({
      merchantId: 'm1',
      outRefundNo: 'VPNOREFUND1',
      outTradeNo: 'x',
    });
    expect(refund).toMatchObject({ status: 'PROCESSING', resendable: true });
  });

  it('a wrong AppKey is a signature error, a wrong AppSecret no permission, env sandbox signs with the sandbox key', async () => {
    const wrongKey = createWxpayVirtualProvider({
      merchants: [{ ...config, sandboxAppKey: randomBytes(24).toString('base64url') }],
    });
    const signature = await failure(wrongKey.queryPayment({ merchantId: 'm1', outTradeNo: 'VPNOTHERE02' }));
    expect([signature.code, signature.gatewayCode]).toEqual([40002, '268490003']);
    // The production key signs only env 0.
    const productionKeyInSandbox = createWxpayVirtualProvider({
      merchants: [{ ...config, sandboxAppKey: mp.appKey }],
    });
    expect(
      (await failure(productionKeyInSandbox.queryPayment({ merchantId: 'm1', outTradeNo: 'VPNOTHERE02' })))
        .code,
    ).toBe(40002);
    const wrongSecret = createWxpayVirtualProvider({ merchants: [{ ...config, appSecret: 'nope' }] });
    const denied = await failure(wrongSecret.queryPayment({ merchantId: 'm1', outTradeNo: 'VPNOTHERE02' }));
    expect([denied.code, denied.gatewayCode]).toEqual([40009, '40125']);
  });

  it('fetches the access token once and again only when it expired', async () => {
    const calls: string[] = [];
    const provider = createWxpayVirtualProvider({
      merchants: [config],
      fetch: (url, init) => {
        calls.push(new URL(url).pathname);
        return fetch(url, init);
      },
    });
    await Promise.all(
      [1, 2, 3].map(() => provider.queryPayment({ merchantId: 'm1', outTradeNo: 'VPNOTHERE03' })),
    );
    expect(calls.filter((p) => p === '/cgi-bin/stable_token')).toHaveLength(1);
    await control('POST', `/apps/${mp.appId}/expire-tokens`);
    await provider.queryPayment({ merchantId: 'm1', outTradeNo: 'VPNOTHERE03' });
    expect(calls.filter((p) => p === '/cgi-bin/stable_token')).toHaveLength(2);
  });

  it('an unreachable host is a network error', async () => {
    const provider = createWxpayVirtualProvider({
      merchants: [{ ...config, baseUrl: 'http://127.0.0.1:9' }],
    });
    expect((await failure(provider.queryPayment({ merchantId: 'm1', outTradeNo: 'VPNOTHERE04' }))).code).toBe(
      40004,
    );
  });

  it('refuses pushes for the other env, for another mini program, without timestamp, and keeps other events', async () => {
    const provider = createWxpayVirtualProvider({ merchants: [{ ...config, originalId: mp.originalId }] });
    const timestamp = '1714112445';
    const nonce = '415670741';
    const signature = sha1(mp.pushToken, timestamp, nonce);
    const parse = (message: object, query: Record<string, string> = { timestamp, nonce, signature }) =>
      provider.parseNotify('m1', {}, Buffer.from(JSON.stringify(message)), undefined, query);
    const delivery = {
      ToUserName: mp.originalId,
      Event: 'xpay_goods_deliver_notify',
      OutTradeNo: 'VP00000001',
      Env: 1,
      GoodsInfo: { ProductId: 'p', Quantity: 2, OrigPrice: 300 },
      WeChatPayInfo: { TransactionId: '4200001', PaidTime: 1714112445 },
    };
    const event = await parse(delivery);
    expect(event).toMatchObject({
      kind: 'payment',
      result: { outTradeNo: 'VP00000001', amountFen: 600, transactionId: '4200001', status: 'SUCCESS' },
    });
    expect((await failure(parse({ ...delivery, Env: 0 }))).code).toBe(40002);
    expect((await failure(parse({ ...delivery, ToUserName: 'gh_other' }))).code).toBe(40002);
    expect((await failure(parse(delivery, { nonce, signature }))).code).toBe(40002);
    expect(
      await parse({ ToUserName: mp.originalId, Event: 'xpay_complaint_notify', MsgType: 'event' }),
    ).toMatchObject({
      kind: 'store',
      result: { kind: 'other', notificationType: 'xpay_complaint_notify' },
    });
    const refund = await parse({
      ToUserName: mp.originalId,
      Event: 'xpay_refund_notify',
      MchRefundId: 'VP00000001R1',
      WxRefundId: 'wxr1',
      RefundFee: 100,
      RetCode: 268490013,
    });
    expect(refund).toMatchObject({ kind: 'refund', result: { status: 'CLOSED', refundFen: 100 } });
  });

  it('answers WeChat the way its message push expects', () => {
    const provider = createWxpayVirtualProvider({ merchants: [config] });
    expect(provider.ackNotify('accepted')).toMatchObject({
      status: 200,
      body: '{"ErrCode":0,"ErrMsg":"success"}',
    });
    const refused = provider.ackNotify('refused', new PayError(40002));
    expect(refused.status).toBe(401);
    expect(JSON.parse(refused.body).ErrCode).not.toBe(0);
  });

  it('refuses a configuration without the AppKey of its env, or with a malformed EncodingAESKey', () => {
    expect(() =>
      createWxpayVirtualProvider({ merchants: [{ ...config, sandboxAppKey: undefined }] }),
    ).toThrow(/sandboxAppKey/);
    expect(() => createWxpayVirtualProvider({ merchants: [{ ...config, encodingAesKey: 'short' }] })).toThrow(
      /encodingAesKey/,
    );
  });
});
