/**
 * A platform-certificate rotation as WeChat Pay runs it, met by our own provider in certificate
 * mode with downloads on: the new certificate is listed days before it signs, so the provider has
 * it by the switch, from its periodic refresh or from the download an unknown serial causes.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPayError } from '../../../src/core/errors.ts';
import { createWxpayProvider, type WxpayProvider } from '../../../src/providers/wxpay/index.ts';
import { type RunningWxpaySandbox, startWxpaySandbox } from '../../../src/sandbox/wxpay/index.ts';

const HOUR = 3_600_000;
let wallMs = Date.now();
let sandbox: RunningWxpaySandbox;
let sequence = 0;

beforeAll(async () => {
  sandbox = await startWxpaySandbox({ timeFactor: 0.001, clock: { now: () => wallMs } });
});
afterAll(() => sandbox.close());

const control = async (path: string, body: unknown = {}) =>
  (await fetch(`${sandbox.url}/sandbox${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  }).then((response) => response.json())) as Record<string, string>;

/** A certificate-mode merchant at the emulator and our provider for it; counts certificate downloads. */
async function certificateMerchant(options: { certificateRefreshMs?: number } = {}) {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const mchId = `19100${String(++sequence).padStart(5, '0')}`;
  const apiV3Key = randomBytes(16).toString('hex');
  const serialNo = randomBytes(20).toString('hex').toUpperCase();
  await control('/merchants', {
    mchid: mchId,
    appid: 'wx8888888888888888',
    apiV3Key,
    merchantSerialNo: serialNo,
    merchantPublicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyMode: 'certificate',
  });
  const downloads: string[] = [];
  const provider: WxpayProvider = createWxpayProvider({
    merchants: [
      {
        merchantId: mchId,
        mchId,
        appId: 'wx8888888888888888',
        serialNo,
        privateKey,
        apiV3Key,
        baseUrl: sandbox.url,
        platformCertificates: { download: true },
        ...options,
      },
    ],
    now: () => wallMs,
    onRequest: (event) => {
      if (event.api === 'certificates') downloads.push(event.path);
    },
  });
  const outTradeNo = `ROT${Date.now()}${sequence}`;
  await provider.createPayment({
    merchantId: mchId,
    outTradeNo,
    totalFen: 100,
    subject: 'rotation',
    scene: 'native',
    notifyUrl: 'https://merchant.example/notify',
  });
  /** A query; the code of its failure, or null. */
  const query = () =>
    provider.queryPayment({ merchantId: mchId, outTradeNo }).then(
      () => null,
      (error: unknown) => (isPayError(error) ? error.code : -1),
    );
  return { query, downloads };
}

describe('platform certificate rotation', () => {
  it('the periodic refresh finds the published certificate before it signs: no 40003 at the switch', async () => {
    const merchant = await certificateMerchant();
    expect(merchant.downloads).toHaveLength(1);
    const rotated = await control('/certificates/rotate');
    expect(await merchant.query()).toBeNull();
    // An hour later (the provider refreshes hourly) the new certificate is listed but not used yet.
    wallMs += HOUR + 1000;
    expect(await merchant.query()).toBeNull();
    expect(merchant.downloads).toHaveLength(2);
    await control('/clock', { at: rotated.signsFrom });
    expect(await merchant.query()).toBeNull();
    expect(await merchant.query()).toBeNull();
    expect(merchant.downloads).toHaveLength(2);
  });

  it('an unknown serial after the switch downloads the certificates again: no 40003 either', async () => {
    const merchant = await certificateMerchant({ certificateRefreshMs: 24 * HOUR });
    const rotated = await control('/certificates/rotate');
    // Days pass for the gateway; a minute for the provider, whose daily refresh is not due.
    wallMs += 61_000;
    await control('/clock', { at: rotated.signsFrom });
    expect(await merchant.query()).toBeNull();
    expect(merchant.downloads).toHaveLength(2);
  });

  it('a certificate that signed the moment it existed is what cost a minute of 40003', async () => {
    const merchant = await certificateMerchant({ certificateRefreshMs: 24 * HOUR });
    await control('/certificates/rotate', { switchAfterMs: 0 });
    // The provider downloaded a moment ago; it will not download again within a minute.
    expect(await merchant.query()).toBe(40003);
    wallMs += 61_000;
    expect(await merchant.query()).toBeNull();
  });
});
