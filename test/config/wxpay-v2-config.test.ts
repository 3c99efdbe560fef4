import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadServiceConfig } from '../../src/config/service-config.ts';
import { createWxpayProvider } from '../../src/providers/wxpay/index.ts';
import { selfSignedClientCertificate } from '../../src/sandbox/wxpay-v2/index.ts';

describe('WeChat Pay APIv2 accounts in the service configuration', () => {
  it('reads the API key and the client certificate by secret reference, and the provider takes them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vkpay-wxv2-'));
    const certificate = await selfSignedClientCertificate('CN=1900000109');
    writeFileSync(join(dir, 'apiclient_cert.pem'), certificate.cert);
    writeFileSync(join(dir, 'apiclient_key.pem'), certificate.key);
    const path = join(dir, 'vk-pay.config.json');
    writeFileSync(
      path,
      JSON.stringify({
        wxpay: [
          {
            apiVersion: 'v2',
            merchantId: 'm1',
            mchId: '1900000109',
            appId: 'wx2421b1c4370ec43b',
            signType: 'HMAC-SHA256',
            apiKey: 'env:WXPAY_V2_KEY',
            clientCertificate: {
              cert: `file:${join(dir, 'apiclient_cert.pem')}`,
              key: `file:${join(dir, 'apiclient_key.pem')}`,
            },
          },
        ],
      }),
    );
    const config = loadServiceConfig({ env: { WXPAY_V2_KEY: 'a'.repeat(32) }, configPath: path });
    expect(config.wxpay[0]).toMatchObject({
      apiVersion: 'v2',
      apiKey: 'a'.repeat(32),
      signType: 'HMAC-SHA256',
      clientCertificate: { cert: certificate.cert, key: certificate.key },
    });
    const provider = createWxpayProvider({ merchants: config.wxpay });
    const [facts] = provider.accountFacts!('m1');
    expect(facts).toMatchObject({
      mchId: '1900000109',
      keyMode: 'apiv2_hmac_sha256',
      certificates: [{ role: 'merchant_api' }],
    });
    expect(JSON.stringify(facts)).not.toContain('a'.repeat(32));
  });

  it('refuses a short API key, an unknown sign type and a client key that is not the certificate’s, naming the field', async () => {
    const certificate = await selfSignedClientCertificate('CN=1900000109');
    const base = {
      apiVersion: 'v2' as const,
      merchantId: 'm1',
      mchId: '1900000109',
      appId: 'wx1',
      apiKey: 'b'.repeat(32),
    };
    const codeOf = (config: object) => {
      try {
        createWxpayProvider({ merchants: [config as never] });
        return null;
      } catch (error) {
        return { code: (error as { code?: number }).code, field: (error as { field?: string }).field };
      }
    };
    expect(codeOf(base)).toBeNull();
    expect(codeOf({ ...base, apiKey: 'short' })).toEqual({ code: 40003, field: 'apiKey' });
    expect(codeOf({ ...base, signType: 'SHA1' })).toEqual({ code: 40003, field: 'signType' });
    const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    });
    expect(codeOf({ ...base, clientCertificate: { cert: certificate.cert, key: otherKey } })).toEqual({
      code: 40003,
      field: 'clientCertificate.key',
    });
  });
});

describe('WeChat Pay APIv2 accounts in production', () => {
  it('refuses extra gateway CAs, which only a sandbox needs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vkpay-wxv2-prod-'));
    const path = join(dir, 'vk-pay.config.json');
    writeFileSync(
      path,
      JSON.stringify({
        env: 'production',
        publicUrl: 'https://pay.example.com',
        wxpay: [
          {
            apiVersion: 'v2',
            merchantId: 'm1',
            mchId: '1900000109',
            appId: 'wx1',
            apiKey: 'env:WXPAY_V2_KEY',
            gatewayCaPems: ['-----BEGIN CERTIFICATE-----'],
          },
        ],
      }),
    );
    let message = '';
    try {
      loadServiceConfig({
        env: { WXPAY_V2_KEY: 'a'.repeat(32), ENCRYPTION_KEY: 'e'.repeat(32) },
        configPath: path,
      });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('wxpay[0].gatewayCaPems is for a sandbox, not production');
  });
});
