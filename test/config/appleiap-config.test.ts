import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadServiceConfig } from '../../src/config/service-config.ts';
import { createAppleIapProvider } from '../../src/providers/appleiap/index.ts';
import { AppleTestCa } from '../../src/sandbox/appleiap/test-ca.ts';

describe('appleiap in the service configuration', () => {
  it('reads its apps with the key and roots from secret references, and the provider accepts them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vkpay-apple-config-'));
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    });
    writeFileSync(join(dir, 'root.pem'), (await AppleTestCa.create()).rootPem);
    const path = join(dir, 'vk-pay.config.json');
    writeFileSync(
      path,
      JSON.stringify({
        appleiap: [
          {
            merchantId: 'shop1',
            bundleId: 'com.example.app',
            issuerId: 'issuer',
            keyId: 'KEY1234567',
            privateKey: 'env:APPLE_IAP_KEY',
            environment: 'Sandbox',
            rootCertificates: ['file:root.pem'],
            products: { vip_month: { totalFen: 2500, type: 'vip' } },
          },
        ],
      }),
    );
    const config = loadServiceConfig({ env: { APPLE_IAP_KEY: String(key) }, configPath: path });
    expect(config.appleiap?.[0]).toMatchObject({ privateKey: String(key), bundleId: 'com.example.app' });
    expect(String((config.appleiap?.[0]?.rootCertificates as string[] | undefined)?.[0])).toContain(
      'BEGIN CERTIFICATE',
    );
    const provider = createAppleIapProvider({ merchants: config.appleiap as never });
    expect(provider.merchantIds?.()).toEqual(['shop1']);
  });
});
