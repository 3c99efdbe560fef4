import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wxpaySandboxPlugin } from '../../../src/sandbox/wxpay/index.ts';
import {
  nativeOrder,
  registerMerchant,
  signedCall,
  verifyGatewaySignature,
} from './support/merchant-client.ts';
import { startNotifyReceiver } from './support/notify-receiver.ts';

describe('mounted under a prefix in a host app', () => {
  const app = Fastify();
  const plugin = wxpaySandboxPlugin();

  beforeAll(async () => {
    app.get('/health', async () => ({ ok: true }));
    await app.register(plugin, { prefix: '/wxpay' });
    await app.ready();
  });
  afterAll(() => app.close());

  it('verifies signatures over the full path as sent and points h5_url at the prefixed payer page', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const registration = {
      mchid: '1230000109',
      appid: 'wxd678efh567hg6787',
      apiV3Key: randomBytes(16).toString('hex'),
      merchantSerialNo: randomBytes(20).toString('hex').toUpperCase(),
      merchantPublicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      keyMode: 'publicKey',
    };
    const registered = await app.inject({
      method: 'POST',
      url: '/wxpay/sandbox/merchants',
      payload: registration,
    });
    expect(registered.statusCode).toBe(200);
    const merchant = {
      mchid: registration.mchid,
      appid: registration.appid,
      apiV3Key: registration.apiV3Key,
      serialNo: registration.merchantSerialNo,
      privateKey,
      publicKeyPem: registration.merchantPublicKeyPem,
      credentials: registered.json(),
    };
    const order = nativeOrder(merchant, {
      scene_info: { payer_client_ip: '127.0.0.1', h5_info: { type: 'iOS' } },
    });
    const response = await signedCall(app, merchant, 'POST', '/wxpay/v3/pay/transactions/h5', order);
    expect(response.status).toBe(200);
    expect(response.json().h5_url).toMatch(
      /^http:\/\/localhost(:\d+)?\/wxpay\/sandbox\/payer\/h5\?prepay_id=/,
    );
    expect(verifyGatewaySignature(merchant, response.headers, response.body)).toBe(true);
    const page = await app.inject({
      url: new URL(response.json().h5_url).pathname + new URL(response.json().h5_url).search,
    });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('action="/wxpay/sandbox/payer/prepay/');
    // The host's own routes and parsers are untouched.
    expect((await app.inject({ url: '/health' })).json()).toEqual({ ok: true });
  });
});

describe('merchant registration', () => {
  const app = Fastify();
  beforeAll(async () => {
    await app.register(wxpaySandboxPlugin());
    await app.ready();
  });
  afterAll(() => app.close());

  it('rejects an APIv3 key that is not 32 bytes, an unparsable key and an unknown key mode', async () => {
    const base = { mchid: '1900000001', appid: 'wx1', merchantSerialNo: 'AB', keyMode: 'publicKey' };
    const shortKey = await app.inject({
      method: 'POST',
      url: '/sandbox/merchants',
      payload: { ...base, apiV3Key: 'short', merchantPublicKeyPem: 'x' },
    });
    expect(shortKey.statusCode).toBe(400);
    expect(shortKey.json().detail.field).toBe('apiV3Key');
    const badPem = await app.inject({
      method: 'POST',
      url: '/sandbox/merchants',
      payload: { ...base, apiV3Key: 'a'.repeat(32), merchantPublicKeyPem: 'not a pem' },
    });
    expect(badPem.json().detail.field).toBe('merchantPublicKeyPem');
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const badMode = await app.inject({
      method: 'POST',
      url: '/sandbox/merchants',
      payload: {
        ...base,
        apiV3Key: 'a'.repeat(32),
        merchantPublicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }),
        keyMode: 'magic',
      },
    });
    expect(badMode.json().detail.field).toBe('keyMode');
  });
});

describe('retry exhaustion', () => {
  it('sends once plus 15 retries, then marks the notification exhausted', async () => {
    const app = Fastify();
    // The whole 24 h schedule takes under a second at this factor.
    const plugin = wxpaySandboxPlugin({ timeFactor: 0.00001 });
    await app.register(plugin);
    await app.ready();
    const receiver = await startNotifyReceiver();
    try {
      const merchant = await registerMerchant(app);
      receiver.answers.push(...Array.from({ length: 20 }, () => 500));
      const order = nativeOrder(merchant, { notify_url: receiver.url });
      await signedCall(app, merchant, 'POST', '/v3/pay/transactions/native', order);
      await app.inject({
        method: 'POST',
        url: `/sandbox/trades/${merchant.mchid}/${order.out_trade_no}/pay`,
      });
      await receiver.waitFor(16, 10_000);
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(receiver.received).toHaveLength(16);
      const [record] = plugin.gateway.notifier.list({ outTradeNo: order.out_trade_no as string });
      expect(record!.state).toBe('exhausted');
      expect(record!.attempts).toHaveLength(16);
    } finally {
      await receiver.close();
      await app.close();
    }
  });
});
