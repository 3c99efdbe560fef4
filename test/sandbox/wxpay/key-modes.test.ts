import { createPublicKey, X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildSandbox,
  decryptResource,
  nativeOrder,
  registerMerchant,
  type SandboxUnderTest,
  seededRandom,
  signedCall,
  verifyGatewaySignature,
} from './support/merchant-client.ts';
import { startNotifyReceiver } from './support/notify-receiver.ts';

let sandbox: SandboxUnderTest;

beforeAll(async () => {
  // Seeded, so the mixed-signer draw below is the same on every run.
  sandbox = await buildSandbox({ random: seededRandom('key-modes') });
});
afterAll(() => sandbox.app.close());

describe('platform certificate mode', () => {
  it('serves /v3/certificates encrypted under the APIv3 key, issued by the test CA, and signs with the certificate', async () => {
    const merchant = await registerMerchant(sandbox.app, 'certificate');
    expect(merchant.credentials.publicKeyId).toBeUndefined();
    const [registered] = merchant.credentials.platformCertificates!;
    const response = await signedCall(sandbox.app, merchant, 'GET', '/v3/certificates');
    expect(response.status).toBe(200);
    expect(response.headers['wechatpay-serial']).toBe(registered!.serialNo);
    expect(response.headers['wechatpay-serial']).toMatch(/^[0-9A-F]{40}$/);
    expect(verifyGatewaySignature(merchant, response.headers, response.body)).toBe(true);

    const [entry] = response.json().data;
    expect(entry.serial_no).toBe(registered!.serialNo);
    expect(entry.encrypt_certificate).toMatchObject({
      algorithm: 'AEAD_AES_256_GCM',
      associated_data: 'certificate',
    });
    expect(entry.effective_time).toMatch(/\+08:00$/);
    const pem = decryptResource(merchant.apiV3Key, entry.encrypt_certificate);
    const certificate = new X509Certificate(pem);
    expect(certificate.serialNumber.toUpperCase()).toBe(entry.serial_no);
    const authority = new X509Certificate(merchant.credentials.caCertificatePem!);
    expect(certificate.verify(authority.publicKey)).toBe(true);
    expect(certificate.checkIssued(authority)).toBe(true);
  });

  it('answers 404 for /v3/certificates in public-key mode', async () => {
    const merchant = await registerMerchant(sandbox.app, 'publicKey');
    const response = await signedCall(sandbox.app, merchant, 'GET', '/v3/certificates');
    expect(response.status).toBe(404);
    expect(verifyGatewaySignature(merchant, response.headers, response.body)).toBe(true);
  });

  it('publishes a rotated certificate days before signing with it; the clock route moves to the switch', async () => {
    const merchant = await registerMerchant(sandbox.app, 'certificate');
    const before = (await signedCall(sandbox.app, merchant, 'GET', '/v3/certificates')).headers[
      'wechatpay-serial'
    ];
    const rotated = (
      await sandbox.app.inject({ method: 'POST', url: '/sandbox/certificates/rotate' })
    ).json();
    // WeChat publishes the new certificate ten days before the old one expires and signs with it
    // from five days before: listed at once, signing later.
    const signsIn = Date.parse(rotated.signsFrom) - Date.now();
    expect(signsIn).toBeGreaterThan(5 * 86_400_000 - 60_000);
    expect(signsIn).toBeLessThanOrEqual(5 * 86_400_000);
    const listed = await signedCall(sandbox.app, merchant, 'GET', '/v3/certificates');
    const serials = listed.json().data.map((entry: { serial_no: string }) => entry.serial_no);
    expect(serials).toContain(rotated.serialNo);
    expect(serials).toContain(before);
    expect(listed.headers['wechatpay-serial']).toBe(before);
    expect(createPublicKey(rotated.certificatePem).asymmetricKeyType).toBe('rsa');

    await sandbox.app.inject({ method: 'POST', url: '/sandbox/clock', payload: { at: rotated.signsFrom } });
    try {
      const after = await signedCall(sandbox.app, merchant, 'GET', '/v3/certificates');
      expect(after.headers['wechatpay-serial']).toBe(rotated.serialNo);
      expect(after.json().data.map((entry: { serial_no: string }) => entry.serial_no)).toContain(before);
    } finally {
      await sandbox.app.inject({ method: 'POST', url: '/sandbox/clock', payload: { offsetMs: 0 } });
    }
    // The lenient way, for a test that wants the new certificate signing at once.
    const now = (
      await sandbox.app.inject({
        method: 'POST',
        url: '/sandbox/certificates/rotate',
        payload: { switchAfterMs: 0 },
      })
    ).json();
    expect(
      (await signedCall(sandbox.app, merchant, 'GET', '/v3/certificates')).headers['wechatpay-serial'],
    ).toBe(now.serialNo);
  });
});

describe('migration (both) mode', () => {
  it('signs responses with the key the request names in Wechatpay-Serial, else the platform certificate', async () => {
    const merchant = await registerMerchant(sandbox.app, 'both');
    const publicKeyId = merchant.credentials.publicKeyId!;
    const order = nativeOrder(merchant);
    const withId = await signedCall(sandbox.app, merchant, 'POST', '/v3/pay/transactions/native', order, {
      headers: { 'wechatpay-serial': publicKeyId },
    });
    expect(withId.headers['wechatpay-serial']).toBe(publicKeyId);
    expect(verifyGatewaySignature(merchant, withId.headers, withId.body)).toBe(true);
    const without = await signedCall(sandbox.app, merchant, 'POST', '/v3/pay/transactions/native', order);
    expect(without.headers['wechatpay-serial']).toMatch(/^[0-9A-F]{40}$/);
    expect(verifyGatewaySignature(merchant, without.headers, without.body)).toBe(true);
  });

  it('mixes notification signers, with publicKeyNotificationShare deciding the share', async () => {
    const receiver = await startNotifyReceiver();
    try {
      const allPublic = await registerMerchant(sandbox.app, 'both', { publicKeyNotificationShare: 1 });
      const order = nativeOrder(allPublic, { notify_url: receiver.url });
      await signedCall(sandbox.app, allPublic, 'POST', '/v3/pay/transactions/native', order);
      await sandbox.app.inject({
        method: 'POST',
        url: `/sandbox/trades/${allPublic.mchid}/${order.out_trade_no}/pay`,
      });
      const [notification] = await receiver.waitFor(1);
      expect(notification!.headers['wechatpay-serial']).toBe(allPublic.credentials.publicKeyId);

      const mixed = await registerMerchant(sandbox.app, 'both');
      for (let i = 0; i < 16; i++) {
        const next = nativeOrder(mixed, { notify_url: receiver.url });
        await signedCall(sandbox.app, mixed, 'POST', '/v3/pay/transactions/native', next);
        await sandbox.app.inject({
          method: 'POST',
          url: `/sandbox/trades/${mixed.mchid}/${next.out_trade_no}/pay`,
        });
      }
      const received = (await receiver.waitFor(17)).slice(1);
      const serials = new Set(received.map((item) => item.headers['wechatpay-serial']));
      expect(serials.size).toBe(2);
      for (const item of received) expect(verifyGatewaySignature(mixed, item.headers, item.body)).toBe(true);
    } finally {
      await receiver.close();
    }
  });
});
