import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config.ts';
import { loadServiceConfig } from '../../src/config/service-config.ts';
import { createDouyinProvider } from '../../src/providers/douyin/index.ts';

describe('douyin in the service configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vkpay-douyin-config-'));
  const appKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const platformKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(join(dir, 'platform.pem'), platformKey.publicKey.export({ type: 'spki', format: 'pem' }));
  const write = (douyin: unknown[]) => {
    const path = join(dir, `vk-pay.${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(path, JSON.stringify({ douyin }));
    return path;
  };

  it('reads trade and ecpay apps with their secrets by reference, and the provider accepts them', () => {
    const path = write([
      {
        merchantId: 'shop1',
        appId: 'tt0123456789abcdef',
        appSecret: 'env:DOUYIN_SECRET',
        privateKey: 'env:DOUYIN_KEY',
        keyVersion: '1',
        platformPublicKey: 'file:platform.pem',
        sku: { type: 401, tagGroupId: 'tag_group_1', imageUrl: 'https://example.com/a.png' },
      },
      { merchantId: 'shop2', api: 'ecpay', appId: 'tt1', salt: 'env:DOUYIN_SALT', token: 'env:DOUYIN_TOKEN' },
    ]);
    const config = loadServiceConfig({
      env: {
        DOUYIN_SECRET: 'app-secret-value-1',
        DOUYIN_KEY: String(appKey.privateKey.export({ type: 'pkcs8', format: 'pem' })),
        DOUYIN_SALT: 'salt-value-2',
        DOUYIN_TOKEN: 'token-value-3',
      },
      configPath: path,
    });
    expect(config.douyin?.[0]).toMatchObject({
      appSecret: 'app-secret-value-1',
      appId: 'tt0123456789abcdef',
    });
    expect(String(config.douyin?.[0]?.platformPublicKey)).toContain('BEGIN PUBLIC KEY');
    expect(config.douyin?.[1]).toMatchObject({ salt: 'salt-value-2', token: 'token-value-3' });
    const provider = createDouyinProvider({ merchants: config.douyin as never });
    expect(provider.merchantIds?.()).toEqual(['shop1', 'shop2']);
    // What operators see: public fingerprints, never the secret, salt or token.
    const facts = provider.accountFacts?.('shop1') ?? [];
    expect(facts[0]).toMatchObject({
      provider: 'douyin',
      appId: 'tt0123456789abcdef',
      keyMode: 'douyin_trade_rsa',
    });
    expect(facts[0]?.keys.map((key) => key.role)).toEqual(['app', 'douyin_platform_public_key']);
    const shown = JSON.stringify([...facts, ...(provider.accountFacts?.('shop2') ?? [])]);
    for (const secret of ['app-secret-value-1', 'salt-value-2', 'token-value-3', 'PRIVATE'])
      expect(shown).not.toContain(secret);
  });

  it('a secret written inline is refused with the field to fix', () => {
    const path = write([{ merchantId: 'shop2', api: 'ecpay', appId: 'tt1', salt: 'inline', token: 'env:T' }]);
    expect(() => loadServiceConfig({ env: { T: 't', VKPAY_ENV: 'production' }, configPath: path })).toThrow(
      ConfigError,
    );
    expect(() => loadServiceConfig({ env: { T: 't', VKPAY_ENV: 'production' }, configPath: path })).toThrow(
      /douyin\[0\]\.salt/,
    );
  });
});
