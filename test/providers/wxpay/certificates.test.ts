/**
 * Platform-certificate mode: certificates downloaded from /v3/certificates and decrypted with the
 * APIv3 key, cached, re-downloaded once for an unknown serial, refreshed on schedule, and the
 * migration period in which both the public key and the certificates verify.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PayError } from '../../../src/core/errors.ts';
import { API_V3_KEY, MCH_ID, parties, provider } from './support/fixtures.ts';
import { startGateway, type TestGateway } from './support/gateway.ts';
import { type PlatformCert, platformCertificate } from './support/keys.ts';
import { type SigningKey, sealResource } from './support/signer.ts';

const p = parties();
const clock = { now: Date.now() };
const paid = {
  mchid: MCH_ID,
  appid: 'wx8888888888888888',
  out_trade_no: 'T20240001',
  transaction_id: '4200000001',
  trade_state: 'SUCCESS',
  amount: { total: 100, currency: 'CNY' },
};
let certA: PlatformCert;
let certB: PlatformCert;
let certExpired: PlatformCert;
let gateway: TestGateway;
/** What /v3/certificates lists, and which certificate signs API answers. */
let listed: PlatformCert[];
let signer: SigningKey;

const asSigner = (cert: PlatformCert): SigningKey => ({ serial: cert.serial, privateKey: cert.privateKey });

function certificatesBody(certs: PlatformCert[], apiV3Key = API_V3_KEY) {
  return {
    data: certs.map((cert, index) => ({
      serial_no: cert.serial,
      effective_time: '2024-01-01T00:00:00+08:00',
      expire_time: '2029-01-01T00:00:00+08:00',
      encrypt_certificate: {
        algorithm: 'AEAD_AES_256_GCM',
        nonce: `nonce${String(index).padStart(7, '0')}`,
        associated_data: 'certificate',
        ciphertext: sealResource(cert.pem, apiV3Key, `nonce${String(index).padStart(7, '0')}`, 'certificate'),
      },
    })),
  };
}

const downloads = () => gateway.requests.filter((r) => r.url.startsWith('/v3/certificates')).length;

beforeAll(async () => {
  [certA, certB, certExpired] = await Promise.all([
    platformCertificate('1A00000000000000000000000000000000000001'),
    platformCertificate('2B00000000000000000000000000000000000002'),
    platformCertificate('3C00000000000000000000000000000000000003', {
      notBefore: new Date(Date.now() - 10 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    }),
  ]);
  gateway = await startGateway({
    key: asSigner(certA),
    clockMs: () => clock.now,
    script: (request) =>
      request.url.startsWith('/v3/certificates')
        ? { status: 200, body: certificatesBody(listed), key: asSigner(listed[0]!) }
        : { status: 200, body: paid, key: signer },
  });
});
afterAll(() => gateway.close());

function certMode(overrides = {}) {
  gateway.requests.length = 0;
  clock.now = Date.now();
  return provider(p, gateway.baseUrl, clock, {
    wechatpayPublicKey: undefined,
    platformCertificates: {},
    ...overrides,
  });
}
const query = (wx: ReturnType<typeof certMode>) =>
  wx.queryPayment({ merchantId: 'm1', outTradeNo: 'T20240001' });

describe('wxpay platform certificates', () => {
  it('downloads once, decrypts with the APIv3 key, then verifies from the cache', async () => {
    listed = [certA];
    signer = asSigner(certA);
    const wx = certMode();
    await expect(query(wx)).resolves.toMatchObject({ status: 'SUCCESS' });
    await expect(query(wx)).resolves.toMatchObject({ status: 'SUCCESS' });
    expect(downloads()).toBe(1);
    // Once known, the newest certificate is announced so the gateway signs with it.
    expect(gateway.requests.at(-1)!.headers['wechatpay-serial']).toBe(certA.serial);
  });

  it('re-downloads exactly once when a new serial arrives (rotation), then verifies with it', async () => {
    listed = [certA];
    signer = asSigner(certA);
    const wx = certMode({ platformCertificates: {} });
    await query(wx);
    clock.now += 120_000; // past the unknown-serial cooldown
    listed = [certB, certA];
    signer = asSigner(certB);
    await expect(query(wx)).resolves.toMatchObject({ status: 'SUCCESS' });
    expect(downloads()).toBe(2);
    await query(wx);
    expect(downloads()).toBe(2);
  });

  it('answers 40003 for a serial still unknown after the one re-download, and does not download again at once', async () => {
    listed = [certA];
    signer = asSigner(certA);
    const wx = certMode();
    await query(wx);
    clock.now += 120_000;
    signer = asSigner(certB);
    const first = await query(wx).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(PayError);
    expect((first as PayError).code).toBe(40003);
    expect(downloads()).toBe(2);
    const second = await query(wx).catch((e: unknown) => e);
    expect((second as PayError).code).toBe(40003);
    expect(downloads()).toBe(2);
  });

  it('shares one download between concurrent requests', async () => {
    listed = [certA];
    signer = asSigner(certA);
    const wx = certMode();
    await Promise.all([query(wx), query(wx), query(wx)]);
    expect(downloads()).toBe(1);
  });

  it('refreshes on schedule', async () => {
    listed = [certA];
    signer = asSigner(certA);
    const wx = certMode({ certificateRefreshMs: 60_000 });
    await query(wx);
    clock.now += 30_000;
    await query(wx);
    expect(downloads()).toBe(1);
    clock.now += 31_000;
    await query(wx);
    expect(downloads()).toBe(2);
  });

  it('rejects a certificate outside its validity period with 40003', async () => {
    listed = [certExpired];
    signer = asSigner(certExpired);
    const wx = certMode({ platformCertificates: { pems: [certExpired.pem], download: false } });
    expect(await query(wx).catch((e: PayError) => e.code)).toBe(40003);
  });

  it('fails with 40003 when the certificates do not decrypt with the APIv3 key', async () => {
    listed = [certA];
    signer = asSigner(certA);
    const wx = certMode({ apiV3Key: 'another32ByteApiV3Key_0123456789' });
    const error = (await query(wx).catch((e: unknown) => e)) as PayError;
    expect(error.code).toBe(40003);
    expect(JSON.stringify({ m: error.message, d: error.details })).not.toContain('another32ByteApiV3Key');
  });

  it('uses configured certificates without downloading', async () => {
    listed = [certA];
    signer = asSigner(certB);
    const wx = certMode({ platformCertificates: { pems: [certB.pem], download: false } });
    await expect(query(wx)).resolves.toMatchObject({ status: 'SUCCESS' });
    expect(downloads()).toBe(0);
  });

  it('accepts both the public key and the certificates during a migration', async () => {
    listed = [certA];
    const wx = certMode({
      wechatpayPublicKey: { id: p.signer.serial, pem: p.wechatpay.publicPem },
      platformCertificates: {},
    });
    signer = p.signer;
    await expect(query(wx)).resolves.toMatchObject({ status: 'SUCCESS' });
    expect(gateway.requests.at(-1)!.headers['wechatpay-serial']).toBe(p.signer.serial);
    signer = asSigner(certA);
    await expect(query(wx)).resolves.toMatchObject({ status: 'SUCCESS' });
    expect(downloads()).toBe(1);
  });

  it('can be warmed up before the first request', async () => {
    listed = [certA];
    signer = asSigner(certA);
    const wx = certMode();
    await wx.refreshCertificates('m1');
    expect(downloads()).toBe(1);
    await query(wx);
    expect(downloads()).toBe(1);
  });
});
