import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { serve } from '../../src/cli/serve.ts';
import { loadServiceConfig } from '../../src/config/service-config.ts';
import { createWxpayVirtualProvider } from '../../src/providers/wxpay-virtual/index.ts';

const SECRETS = {
  WXV_APP_SECRET: randomBytes(16).toString('hex'),
  WXV_APP_KEY: randomBytes(24).toString('base64url'),
  WXV_SANDBOX_APP_KEY: randomBytes(24).toString('base64url'),
  WXV_PUSH_TOKEN: 'pushToken123',
  WXV_AES_KEY: randomBytes(32).toString('base64').slice(0, 43),
};

function configFile(dir: string): string {
  const path = join(dir, 'vk-pay.config.json');
  writeFileSync(
    path,
    JSON.stringify({
      'wxpay-virtual': [
        {
          merchantId: 'shop1',
          appId: 'wx0123456789abcdef',
          appSecret: 'env:WXV_APP_SECRET',
          offerId: '1450000000',
          appKey: 'env:WXV_APP_KEY',
          sandboxAppKey: 'env:WXV_SANDBOX_APP_KEY',
          env: 1,
          pushToken: 'env:WXV_PUSH_TOKEN',
          encodingAesKey: 'env:WXV_AES_KEY',
          products: { coins_60: 600 },
        },
      ],
    }),
  );
  return path;
}

describe('wxpay-virtual in the service configuration', () => {
  it('reads its accounts with every secret from a reference, and the provider accepts them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vkpay-wxv-config-'));
    try {
      const config = loadServiceConfig({ env: SECRETS, configPath: configFile(dir) });
      const [account] = config['wxpay-virtual'] ?? [];
      expect(account).toMatchObject({
        appSecret: SECRETS.WXV_APP_SECRET,
        appKey: SECRETS.WXV_APP_KEY,
        sandboxAppKey: SECRETS.WXV_SANDBOX_APP_KEY,
        pushToken: SECRETS.WXV_PUSH_TOKEN,
        encodingAesKey: SECRETS.WXV_AES_KEY,
      });
      const provider = createWxpayVirtualProvider({ merchants: config['wxpay-virtual'] as never });
      expect(provider.merchantIds?.()).toEqual(['shop1']);
      expect(provider.identity('shop1', 'miniprogram')).toEqual({
        mchId: '1450000000',
        appId: 'wx0123456789abcdef',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a missing secret with the field to fix', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vkpay-wxv-config-'));
    try {
      const { WXV_APP_KEY: _, ...without } = SECRETS;
      expect(() => loadServiceConfig({ env: without, configPath: configFile(dir) })).toThrow(
        /wxpay-virtual\[0\]\.appKey/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('vk-pay serve builds the provider and mounts the emulator in development', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vkpay-wxv-serve-'));
    const config = loadServiceConfig({
      env: { ...SECRETS, VKPAY_PORT: '0', VKPAY_DATA_DIR: 'memory' },
      configPath: configFile(dir),
    });
    const service = await serve({ ...config, syncIntervalMs: 0 }, pino({ level: 'silent' }));
    try {
      expect(service.vkPay.context.providers.has('wxpay-virtual')).toBe(true);
      const base = `${service.url}/sandbox/wxpay-virtual`;
      const registered = await fetch(`${base}/sandbox/apps`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      const app = (await registered.json()) as { appId: string; appSecret: string };
      expect(app.appId).toMatch(/^wx[0-9a-f]{16}$/);
      const token = await fetch(`${base}/cgi-bin/stable_token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ grant_type: 'client_credential', appid: app.appId, secret: app.appSecret }),
      });
      expect(await token.json()).toMatchObject({ access_token: expect.any(String), expires_in: 7200 });
      // The service answers WeChat's check of the push URL.
      const check = await fetch(
        `${service.url}/notify/wxpay-virtual/shop1?timestamp=1&nonce=2&echostr=x&signature=0`,
      );
      expect(check.status).toBe(404);
    } finally {
      await service.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
