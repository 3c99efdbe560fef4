/**
 * The console's Merchants and gateways page: every account as in force (mch_id/app_id, key mode,
 * SHA-256 fingerprints of the public keys, certificates with a warning within 30 days of their end
 * and an error once past it, gateway and notify URLs) and the webhook endpoints, within the
 * operator's merchants; and no configured secret anywhere in the page or the envelope.
 */
import { createHash, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.ts';
import { createAlipayProvider } from '../../src/providers/alipay/index.ts';
import { createWxpayProvider } from '../../src/providers/wxpay/index.ts';
import { AlipayTestCa } from '../../src/sandbox/alipay/test-ca.ts';
import { TestCertificateAuthority } from '../../src/sandbox/wxpay/gateway-keys.ts';
import type { VkPay } from '../../src/vk-pay.ts';
import { backends } from '../support/backends.ts';
import { addUser, ConsoleClient, PASSWORD } from './client.ts';

const DAY = 86_400_000;
const random = (size: number) => randomBytes(size);
const sha256 = (key: KeyObject) =>
  createHash('sha256')
    .update(key.export({ type: 'spki', format: 'der' }))
    .digest('hex');
const rsa = () => generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' }).toString();

describe.each(backends)('the console merchants page on $name', (backend) => {
  let vkPay: VkPay;
  let app: FastifyInstance;
  /** Every secret the configuration holds, in the forms it could leak in. */
  const secrets: string[] = [];
  const merchantKey = rsa();
  const oldKey = rsa();
  const wechatpayKey = rsa();
  const appKey = rsa();
  const alipayKey = rsa();
  const publicModeKey = rsa();
  const serials: Record<string, string> = {};
  beforeAll(async () => {
    const now = new Date();
    const ca = await TestCertificateAuthority.create(random, now);
    const longLived = await ca.issuePlatformCertificate(random, now, 365);
    const expiring = await ca.issuePlatformCertificate(random, now, 10);
    const expired = await ca.issuePlatformCertificate(random, new Date(now.getTime() - 400 * DAY), 100);
    serials.longLived = longLived.serial;
    serials.expiring = expiring.serial;
    serials.expired = expired.serial;
    const alipayCa = await AlipayTestCa.create(random, () => Date.now());
    const apiV3Key = randomBytes(16).toString('hex');
    const oldApiV3Key = randomBytes(16).toString('hex');
    const appAuthToken = `202612BB${randomBytes(16).toString('hex')}`;
    const wxpay = createWxpayProvider({
      merchants: [
        {
          merchantId: 'shop1',
          mchId: '1900000109',
          appId: 'wx1111111111111111',
          appIds: { miniprogram: 'wx2222222222222222' },
          serialNo: 'AB'.repeat(20),
          privateKey: pem(merchantKey.privateKey),
          apiV3Key,
          wechatpayPublicKey: {
            id: 'PUB_KEY_ID_0119000001092026',
            pem: wechatpayKey.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
          },
          platformCertificates: {
            pems: [longLived.certificatePem, expiring.certificatePem],
            download: false,
          },
          baseUrl: 'https://wxpay.example',
        },
        {
          merchantId: 'shop1',
          account: 'old',
          mchId: '1900000110',
          appId: 'wx3333333333333333',
          serialNo: 'CD'.repeat(20),
          privateKey: pem(oldKey.privateKey),
          apiV3Key: oldApiV3Key,
          platformCertificates: { pems: [expired.certificatePem], download: false },
          baseUrl: 'https://wxpay.example',
        },
      ],
    });
    const alipay = createAlipayProvider({
      merchants: [
        {
          merchantId: 'shop1',
          appId: '2021000000000001',
          privateKey: pem(appKey.privateKey),
          certificates: {
            appCert: await alipayCa.issue(appKey.publicKey, '2021000000000001'),
            alipayCert: await alipayCa.issue(alipayKey.publicKey, 'Alipay', 20 / 365),
            alipayRootCert: alipayCa.rootBundlePem,
          },
          sellerId: '2088000000000001',
          appAuthToken,
          baseUrl: 'https://alipay.example/gateway.do',
        },
        {
          merchantId: 'shop2',
          appId: '2021000000000002',
          privateKey: pem(publicModeKey.privateKey),
          alipayPublicKey: alipayKey.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
          baseUrl: 'https://alipay.example/gateway.do',
        },
      ],
    });
    const webhookSecret = `whsec_${randomBytes(32).toString('base64')}`;
    const sealingKey = randomBytes(32).toString('hex');
    vkPay = await backend.open({
      providers: [wxpay, alipay],
      publicUrl: 'https://pay.example.com',
      webhooks: {
        secretKey: sealingKey,
        endpoints: [
          {
            merchantId: 'shop1',
            url: 'https://shop1.example/hooks/vk-pay',
            events: ['payment.succeeded', 'refund.succeeded'],
            secret: webhookSecret,
            description: 'from the file',
          },
        ],
      },
    });
    const made = await vkPay.createWebhookEndpoint('shop2', { url: 'https://shop2.example/hook' });
    secrets.push(
      apiV3Key,
      oldApiV3Key,
      appAuthToken,
      webhookSecret,
      made.secret,
      sealingKey,
      'PRIVATE KEY',
      ...[merchantKey, oldKey, appKey, publicModeKey].flatMap(({ privateKey }) => [
        // A line of the PEM, and the key's DER in base64 and hex.
        pem(privateKey).split('\n')[5]!,
        privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64').slice(100, 160),
        privateKey.export({ type: 'pkcs8', format: 'der' }).toString('hex').slice(200, 280),
      ]),
    );
    app = await buildApp({ vkPay, docs: false });
    await addUser(vkPay, 'root', 'admin');
    await addUser(vkPay, 'vera', 'viewer', ['shop2']);
  }, 300_000);
  afterAll(async () => {
    await app?.close();
    await vkPay?.close();
  });

  const signedIn = async (name: string) => {
    const client = new ConsoleClient(app);
    expect((await client.signIn(name, PASSWORD)).statusCode).toBe(200);
    return client;
  };

  it('shows each account as in force: ids, key mode, fingerprints, certificates by state, URLs', async () => {
    const root = await signedIn('root');
    const answer = await root.get('/console/merchants');
    expect(answer.statusCode).toBe(200);
    const merchants = answer.json().data.merchants;
    expect(merchants.map((merchant: { merchantId: string }) => merchant.merchantId)).toEqual([
      'shop1',
      'shop2',
    ]);
    const shop1 = merchants[0];
    const account = (provider: string, name: string) =>
      shop1.accounts.find(
        (item: { provider: string; account: string }) => item.provider === provider && item.account === name,
      );
    const wx = account('wxpay', 'default');
    expect(wx).toMatchObject({
      mchId: '1900000109',
      appId: 'wx1111111111111111',
      appIds: { miniprogram: 'wx2222222222222222' },
      keyMode: 'both',
      gatewayUrl: 'https://wxpay.example',
      notifyUrl: 'https://pay.example.com/notify/wxpay/shop1',
      keys: [
        { role: 'merchant', id: null, sha256: sha256(merchantKey.publicKey) },
        {
          role: 'wechatpay_public_key',
          id: 'PUB_KEY_ID_0119000001092026',
          sha256: sha256(wechatpayKey.publicKey),
        },
      ],
    });
    expect(
      wx.certificates.map((c: { role: string; serial: string; state: string }) => [
        c.role,
        c.serial,
        c.state,
      ]),
    ).toEqual([
      ['merchant_api', 'AB'.repeat(20), 'unknown'],
      ['platform', serials.longLived, 'valid'],
      ['platform', serials.expiring, 'expiring'],
    ]);
    expect(wx.certificates[2].daysLeft).toBeGreaterThanOrEqual(9);
    const old = account('wxpay', 'old');
    expect(old).toMatchObject({
      keyMode: 'platform_certificates',
      notifyUrl: 'https://pay.example.com/notify/wxpay/shop1/old',
    });
    expect(old.certificates[1]).toMatchObject({ serial: serials.expired, state: 'expired' });
    const ali = account('alipay', 'default');
    expect(ali).toMatchObject({
      mchId: '2088000000000001',
      appId: '2021000000000001',
      keyMode: 'alipay_certificate',
      keys: [
        { role: 'app', sha256: sha256(appKey.publicKey) },
        { role: 'alipay_public_key', sha256: sha256(alipayKey.publicKey) },
      ],
    });
    expect(ali.certificates.map((c: { role: string; state: string }) => [c.role, c.state])).toEqual([
      ['app', 'valid'],
      ['alipay', 'expiring'],
    ]);
    expect(shop1.webhooks).toEqual([
      expect.objectContaining({
        url: 'https://shop1.example/hooks/vk-pay',
        events: ['payment.succeeded', 'refund.succeeded'],
        source: 'config',
        enabled: true,
      }),
    ]);
    expect(merchants[1].accounts[0]).toMatchObject({ provider: 'alipay', keyMode: 'alipay_public_key' });
    expect(merchants[1].webhooks[0]).toMatchObject({
      url: 'https://shop2.example/hook',
      events: null,
      source: 'api',
    });

    const page = await root.get('/console/merchants?lang=en', { html: true });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<h1>Merchants and gateways</h1>');
    // The warnings come first, as an error when something has expired.
    expect(page.body).toMatch(/<section class="attention bad"[^>]*data-testid="warnings"/);
    expect(page.body).toContain(`Platform certificate ${serials.expired} Expired`);
    expect(page.body).toMatch(new RegExp(`Platform certificate ${serials.expiring} Expires in (9|10) days`));
    expect(page.body).toContain('Alipay public-key certificate');
    expect(page.body).toContain(sha256(wechatpayKey.publicKey));
    expect(page.body).toContain('https://pay.example.com/notify/wxpay/shop1/old');
    const zh = await root.get('/console/merchants', { html: true, headers: { 'accept-language': 'zh' } });
    expect(zh.body).toContain('<h1>商户与支付通道</h1>');
    expect(zh.body).toContain('已过期');
  });

  it('keeps a viewer to their merchants: another one is not found (40005)', async () => {
    const vera = await signedIn('vera');
    const answer = await vera.get('/console/merchants');
    expect(answer.json().data.merchants.map((m: { merchantId: string }) => m.merchantId)).toEqual(['shop2']);
    const other = await vera.get('/console/merchants?merchant=shop1');
    expect(other.statusCode).toBe(404);
    expect(other.json().code).toBe(40005);
    const page = await vera.get('/console/merchants', { html: true });
    expect(page.body).not.toContain('shop1');
  });

  it('never shows a secret, private key, API key or token, in the page or the JSON', async () => {
    const root = await signedIn('root');
    const answers = [
      (await root.get('/console/merchants')).body,
      (await root.get('/console/merchants?lang=en', { html: true })).body,
      (await root.get('/console/merchants', { html: true })).body,
      (await root.get('/console/merchants?merchant=shop2')).body,
    ];
    expect(secrets.length).toBeGreaterThan(15);
    for (const body of answers) {
      // The scan would find them: the answers hold the configuration's public parts.
      expect(body).toContain('shop');
      for (const secret of secrets)
        expect(body.includes(secret), `secret ${secret.slice(0, 12)}...`).toBe(false);
    }
  });
});
