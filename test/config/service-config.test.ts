import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config.ts';
import { loadServiceConfig } from '../../src/config/service-config.ts';
import { createFieldSealer, sealingKeyId } from '../../src/service/sealing.ts';

function withFile(content: unknown): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'vkpay-config-'));
  const path = join(dir, 'vk-pay.config.json');
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return { dir, path };
}

const errorOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('service configuration', () => {
  it('runs on the embedded defaults with the sandbox on in development', () => {
    const config = loadServiceConfig({ env: {}, cwd: mkdtempSync(join(tmpdir(), 'vkpay-empty-')) });
    expect(config).toMatchObject({
      env: 'development',
      host: '127.0.0.1',
      port: 3000,
      dataDir: './data',
      sandbox: { enabled: true },
      security: { requireSignature: false, requireHttps: false },
      configFile: null,
    });
    expect(config.databaseUrl).toBeUndefined();
    expect(config.redisUrl).toBeUndefined();
  });

  it('reads secrets from the environment and from files, relative to the config file', () => {
    const { dir, path } = withFile({ apps: [{ appId: 'a1', merchantId: 'm1', secret: 'file:app.secret' }] });
    writeFileSync(join(dir, 'app.secret'), 'k'.repeat(40));
    expect(loadServiceConfig({ env: {}, configPath: path }).apps[0]!.secret).toBe('k'.repeat(40));
    const fromEnv = withFile({ apps: [{ appId: 'a1', merchantId: 'm1', secret: 'env:APP_SECRET' }] });
    expect(
      loadServiceConfig({ env: { APP_SECRET: 'e'.repeat(40) }, configPath: fromEnv.path }).apps[0]!.secret,
    ).toBe('e'.repeat(40));
    expect(errorOf(() => loadServiceConfig({ env: {}, configPath: fromEnv.path }))).toContain(
      'apps[0].secret refers to environment variable APP_SECRET',
    );
  });

  it("takes the payment-code schedule from the file and the environment, within the gateways' bounds", () => {
    const empty = mkdtempSync(join(tmpdir(), 'vkpay-empty-'));
    expect(loadServiceConfig({ env: {}, cwd: empty }).micropay).toEqual({
      pollMs: 5000,
      confirmWindowMs: 45000,
    });
    const { path } = withFile({ micropay: { pollMs: 2000, confirmWindowMs: 30000 } });
    expect(loadServiceConfig({ env: {}, configPath: path }).micropay).toEqual({
      pollMs: 2000,
      confirmWindowMs: 30000,
    });
    expect(
      loadServiceConfig({ env: { VKPAY_MICROPAY_WINDOW_MS: '60000' }, configPath: path }).micropay,
    ).toEqual({ pollMs: 2000, confirmWindowMs: 60000 });
    expect(
      errorOf(() => loadServiceConfig({ env: { VKPAY_MICROPAY_WINDOW_MS: '1000' }, configPath: path })),
    ).toContain('micropay.confirmWindowMs');
    expect(
      errorOf(() => loadServiceConfig({ env: { VKPAY_MICROPAY_POLL_MS: 'soon' }, cwd: empty })),
    ).toContain('micropay.pollMs');
  });

  it('names the field and the problem, never the secret', () => {
    const { path } = withFile({ apps: [{ appId: 'a1', merchantId: 'm1', secret: 'too-short-secret' }] });
    const message = errorOf(() => loadServiceConfig({ env: {}, configPath: path }));
    expect(message).toBe('apps[0].secret must be at least 32 characters');
    expect(errorOf(() => loadServiceConfig({ env: {}, configPath: withFile('{ nope').path }))).toContain(
      'is not a JSON object',
    );
    expect(
      errorOf(() => loadServiceConfig({ env: { VKPAY_PORT: '70000' }, configPath: withFile({}).path })),
    ).toContain('port');
  });

  it('refuses in production: sandbox, inline secrets, plain HTTP, no gateways', () => {
    const inline = withFile({ apps: [{ appId: 'a1', merchantId: 'm1', secret: 's'.repeat(40) }] });
    expect(
      errorOf(() => loadServiceConfig({ env: { NODE_ENV: 'production' }, configPath: inline.path })),
    ).toContain('apps[0].secret is written inline');
    const bare = withFile({ sandbox: { enabled: true } });
    const message = errorOf(() =>
      loadServiceConfig({ env: { NODE_ENV: 'production' }, configPath: bare.path }),
    );
    expect(message).toContain('sandbox.enabled must be false');
    expect(message).toContain('production needs HTTPS');
    expect(message).toContain('publicUrl must be https://');
    expect(message).toContain('configure at least one wxpay merchant or alipay app');
  });

  it('switches to the servers with DATABASE_URL and REDIS_URL', () => {
    const config = loadServiceConfig({
      env: { DATABASE_URL: 'postgres://u@db:5432/pay', REDIS_URL: 'redis://cache:6379' },
      cwd: mkdtempSync(join(tmpdir(), 'vkpay-empty-')),
    });
    expect(config.databaseUrl).toBe('postgres://u@db:5432/pay');
    expect(config.redisUrl).toBe('redis://cache:6379');
  });
});

describe('alert configuration', () => {
  it('defaults to a 10 % threshold over five minutes, logged only', () => {
    const config = loadServiceConfig({ env: {}, cwd: mkdtempSync(join(tmpdir(), 'vkpay-empty-')) });
    expect(config.alerts).toEqual({
      webhookUrl: null,
      format: 'json',
      secret: null,
      threshold: 0.1,
      windowMs: 300_000,
      minEvents: 20,
      intervalMs: 60_000,
      repeatMs: 3_600_000,
    });
  });

  it('reads the webhook as a secret, its format and its numbers, and names a bad field', () => {
    const { path } = withFile({
      alerts: {
        webhookUrl: 'env:ALERT_URL',
        format: 'wecom',
        threshold: 0.2,
        windowMinutes: 10,
        intervalSeconds: 30,
      },
    });
    const url = 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k1';
    expect(loadServiceConfig({ env: { ALERT_URL: url }, configPath: path }).alerts).toMatchObject({
      webhookUrl: url,
      format: 'wecom',
      threshold: 0.2,
      windowMs: 600_000,
      intervalMs: 30_000,
    });
    expect(
      loadServiceConfig({ env: { VKPAY_ALERT_WEBHOOK: 'https://hooks.example/a' }, configPath: path }).alerts
        .webhookUrl,
    ).toBe('https://hooks.example/a');
    expect(
      errorOf(() =>
        loadServiceConfig({ env: {}, configPath: withFile({ alerts: { format: 'email' } }).path }),
      ),
    ).toBe('alerts.format must be one of json, wecom, dingtalk');
    expect(
      errorOf(() => loadServiceConfig({ env: {}, configPath: withFile({ alerts: { threshold: 10 } }).path })),
    ).toContain('alerts.threshold must be a share between 0 and 1');
    expect(
      errorOf(() =>
        loadServiceConfig({ env: {}, configPath: withFile({ alerts: { webhookUrl: 'ftp://x' } }).path }),
      ),
    ).toBe('alerts.webhookUrl must be an http(s) URL');
  });
});

describe('webhook and encryption configuration', () => {
  const secret = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;

  it('reads endpoints with secrets by reference, and the key sealing API-made secrets', () => {
    const { path } = withFile({
      webhooks: {
        secretKey: 'env:HOOK_KEY',
        timeFactor: 0.5,
        endpoints: [
          { merchantId: 'm1', url: 'https://backend.example/pay', secret: 'env:HOOK_SECRET' },
          {
            id: 'recharge',
            merchantId: 'm1',
            url: 'https://backend.example/recharge',
            orderTypes: ['recharge'],
            events: ['payment.succeeded'],
            secret: 'env:HOOK_SECRET',
            timeoutMs: 5000,
          },
        ],
      },
    });
    const config = loadServiceConfig({
      env: { HOOK_KEY: 'k'.repeat(40), HOOK_SECRET: secret },
      configPath: path,
    });
    expect(config.webhooks).toMatchObject({
      secretKey: 'k'.repeat(40),
      timeFactor: 0.5,
      endpoints: [
        { merchantId: 'm1', url: 'https://backend.example/pay', secret, orderTypes: null },
        { id: 'recharge', orderTypes: ['recharge'], events: ['payment.succeeded'], timeoutMs: 5000 },
      ],
    });
    expect(
      loadServiceConfig({
        env: { VKPAY_WEBHOOK_KEY: 'w'.repeat(32), HOOK_SECRET: secret, HOOK_KEY: 'x' },
        configPath: path,
      }).webhooks.secretKey,
    ).toBe('w'.repeat(32));
  });

  it('names a bad endpoint field, never its secret', () => {
    const bad = (endpoint: Record<string, unknown>) =>
      errorOf(() =>
        loadServiceConfig({
          env: {},
          configPath: withFile({
            webhooks: { endpoints: [{ merchantId: 'm1', url: 'https://x.example/', secret, ...endpoint }] },
          }).path,
        }),
      );
    expect(bad({ url: 'ftp://x' })).toBe('webhooks.endpoints[0].url: url must be http(s)');
    expect(bad({ secret: 'not-a-whsec-secret' })).toContain('webhooks.endpoints[0].secret must be whsec_');
    expect(bad({ secret: 'not-a-whsec-secret' })).not.toContain('not-a-whsec-secret');
    expect(bad({ orderTypes: 'recharge' })).toBe(
      'webhooks.endpoints[0].orderTypes must be a list of strings',
    );
  });

  it('refuses in production: no webhook key, plain-http endpoints, inline endpoint secrets', () => {
    const production = {
      env: 'production',
      publicUrl: 'https://pay.example.com',
      security: { trustedProxies: ['10.0.0.1'] },
      checkout: { secret: 'env:CHECKOUT' },
      apps: [{ appId: 'a1', merchantId: 'm1', secret: 'env:APP' }],
      alipay: [{ merchantId: 'm1', appId: '2021', privateKey: 'env:ALIPAY_KEY', alipayPublicKey: 'x' }],
    };
    const env = { CHECKOUT: 'c'.repeat(40), APP: 'a'.repeat(40), ALIPAY_KEY: 'k', HOOK: secret };
    const noKey = withFile(production);
    expect(errorOf(() => loadServiceConfig({ env, configPath: noKey.path }))).toContain(
      'webhooks.secretKey (or VKPAY_WEBHOOK_KEY) must be set in production',
    );
    const plain = withFile({
      ...production,
      webhooks: { endpoints: [{ merchantId: 'm1', url: 'http://backend/pay', secret: 'env:HOOK' }] },
    });
    expect(
      errorOf(() =>
        loadServiceConfig({ env: { ...env, VKPAY_WEBHOOK_KEY: 'w'.repeat(32) }, configPath: plain.path }),
      ),
    ).toBe('webhooks.endpoints[0].url: url must be https:// in production');
    const inline = withFile({
      ...production,
      webhooks: { endpoints: [{ merchantId: 'm1', url: 'https://backend/pay', secret }] },
    });
    expect(
      errorOf(() =>
        loadServiceConfig({ env: { ...env, VKPAY_WEBHOOK_KEY: 'w'.repeat(32) }, configPath: inline.path }),
      ),
    ).toContain('webhooks.endpoints[0].secret is written inline');
    const good = withFile({
      ...production,
      webhooks: { endpoints: [{ merchantId: 'm1', url: 'https://backend/pay', secret: 'env:HOOK' }] },
    });
    expect(
      loadServiceConfig({
        env: { ...env, VKPAY_WEBHOOK_KEY: 'w'.repeat(32), ENCRYPTION_KEY: 'e'.repeat(32) },
        configPath: good.path,
      }).webhooks,
    ).toMatchObject({ httpsOnly: true, endpoints: [{ url: 'https://backend/pay' }] });
  });

  it('reads the fields of custom to store encrypted, with keys by reference', () => {
    const key = Buffer.alloc(32, 3).toString('base64');
    const { path } = withFile({
      encryption: { keys: { k1: 'env:ENC' }, activeKeyId: 'k1', fields: ['user_info', 'phone'] },
    });
    const config = loadServiceConfig({ env: { ENC: key }, configPath: path });
    expect(config.sealing).toMatchObject({ activeKeyId: 'k1', fields: ['user_info', 'phone'] });
    expect(config.sealing!.keys.k1!.equals(Buffer.alloc(32, 3))).toBe(true);
    const short = withFile({ encryption: { keys: { k1: 'env:ENC' }, activeKeyId: 'k1' } });
    expect(errorOf(() => loadServiceConfig({ env: { ENC: 'c2hvcnQ=' }, configPath: short.path }))).toBe(
      'encryption.keys.k1 must be 32 bytes: 64 hex digits, base64 of 32 bytes, or 32 characters',
    );
  });
});

describe('URLs in production', () => {
  it('refuses every gateway, public and alert URL over plain HTTP, naming the setting', () => {
    const production = {
      env: 'production',
      publicUrl: 'http://pay.example.com',
      security: { trustedProxies: ['10.0.0.1'] },
      checkout: { secret: 'env:CHECKOUT' },
      webhooks: { secretKey: 'env:HOOK_KEY' },
      alerts: { webhookUrl: 'env:ALERT_URL' },
      apps: [{ appId: 'a1', merchantId: 'm1', secret: 'env:APP' }],
      wxpay: [
        {
          merchantId: 'm1',
          mchId: '1900000109',
          privateKey: 'env:KEY',
          apiV3Key: 'env:KEY',
          baseUrl: 'http://wx.example',
        },
      ],
      alipay: [
        {
          merchantId: 'm1',
          appId: '2021',
          privateKey: 'env:KEY',
          alipayPublicKey: 'x',
          baseUrl: 'https://openapi.alipay.com/gateway.do',
        },
        {
          merchantId: 'm2',
          appId: '2022',
          privateKey: 'env:KEY',
          alipayPublicKey: 'x',
          baseUrl: 'http://openapi.alipay.com/gateway.do',
        },
      ],
    };
    const env = {
      CHECKOUT: 'c'.repeat(40),
      APP: 'a'.repeat(40),
      KEY: 'k'.repeat(32),
      HOOK_KEY: 'h'.repeat(40),
      ALERT_URL: 'http://hooks.example/alert',
      ENCRYPTION_KEY: 'e'.repeat(32),
    };
    const message = errorOf(() => loadServiceConfig({ env, configPath: withFile(production).path }));
    expect(message).toContain('publicUrl must be https://');
    expect(message).toContain('alerts.webhookUrl must be https:// in production');
    expect(message).toContain('wxpay[0].baseUrl must be https:// in production');
    expect(message).toContain('alipay[1].baseUrl must be https:// in production');
    expect(message).not.toContain('alipay[0]');
    const fixed = {
      ...production,
      publicUrl: 'https://pay.example.com',
      wxpay: [{ ...production.wxpay[0], baseUrl: 'https://api.mch.weixin.qq.com' }],
      alipay: [production.alipay[0]],
    };
    const config = loadServiceConfig({
      env: { ...env, ALERT_URL: 'https://hooks.example/alert' },
      configPath: withFile(fixed).path,
    });
    expect(config.alipay[0]).toMatchObject({ baseUrl: 'https://openapi.alipay.com/gateway.do' });

    // The API reference is off in production unless asked for.
    expect(config.docs).toBe(false);
    const good = { ...env, ALERT_URL: 'https://hooks.example/alert' };
    expect(
      loadServiceConfig({ env: { ...good, VKPAY_DOCS: '1' }, configPath: withFile(fixed).path }).docs,
    ).toBe(true);
    expect(loadServiceConfig({ env: good, configPath: withFile({ ...fixed, docs: true }).path }).docs).toBe(
      true,
    );
  });
});

describe('field encryption keys', () => {
  const key = Buffer.alloc(32, 7);
  const empty = () => mkdtempSync(join(tmpdir(), 'vkpay-empty-'));

  it("seals custom.user_info whenever ENCRYPTION_KEY is set, in the seed's form, hex or base64", () => {
    for (const written of [key.toString('hex'), key.toString('base64'), key.toString('base64url')]) {
      const config = loadServiceConfig({ env: { ENCRYPTION_KEY: written }, cwd: empty() });
      expect(config.sealing).toEqual({
        keys: { [sealingKeyId(key)]: key },
        activeKeyId: sealingKeyId(key),
        fields: ['user_info'],
      });
    }
    // The original plugin hands ENCRYPTION_KEY to createCipheriv as it is: 32 characters.
    const seed = 'an-encryption-key-of-32-letters!';
    expect(
      loadServiceConfig({ env: { ENCRYPTION_KEY: seed }, cwd: empty() }).sealing!.keys[
        sealingKeyId(Buffer.from(seed))
      ],
    ).toEqual(Buffer.from(seed));
    expect(loadServiceConfig({ env: {}, cwd: empty() }).sealing).toBeNull();
  });

  it('reads ENCRYPTION_KEY by reference and names a bad key, never its value', () => {
    const { dir, path } = withFile({});
    writeFileSync(join(dir, 'field.key'), `${key.toString('hex')}\n`);
    expect(
      loadServiceConfig({ env: { ENCRYPTION_KEY: 'file:field.key' }, configPath: path }).sealing!.activeKeyId,
    ).toBe(sealingKeyId(key));
    const message = errorOf(() =>
      loadServiceConfig({ env: { ENCRYPTION_KEY: 'not-long-enough' }, configPath: path }),
    );
    expect(message).toBe(
      'ENCRYPTION_KEY must be 32 bytes: 64 hex digits, base64 of 32 bytes, or 32 characters',
    );
  });

  it('keeps older keys for reading after a rotation; the new ENCRYPTION_KEY seals', () => {
    const old = Buffer.alloc(32, 1);
    const { path } = withFile({
      encryption: { keys: { k1: 'env:OLD_KEY' }, fields: ['user_info', 'phone'] },
    });
    const config = loadServiceConfig({
      env: { OLD_KEY: old.toString('base64'), ENCRYPTION_KEY: key.toString('hex') },
      configPath: path,
    });
    expect(config.sealing).toMatchObject({ activeKeyId: sealingKeyId(key), fields: ['user_info', 'phone'] });
    expect(Object.keys(config.sealing!.keys).sort()).toEqual(['k1', sealingKeyId(key)].sort());
    const before = createFieldSealer({
      keys: { [sealingKeyId(old)]: old },
      activeKeyId: sealingKeyId(old),
      fields: ['user_info'],
    });
    const sealed = before.seal({ user_info: { name: 'Li' } });
    // Sealed under the old ENCRYPTION_KEY, listed now under any id: it opens by its fingerprint.
    expect(createFieldSealer(config.sealing!).unseal(sealed)).toEqual({ user_info: { name: 'Li' } });
  });

  it('refuses fields without a key, and production without a key unless encryption is turned off', () => {
    const asked = withFile({ encryption: { fields: ['user_info'] } });
    expect(errorOf(() => loadServiceConfig({ env: {}, configPath: asked.path }))).toContain(
      'encryption: custom.user_info would be stored in clear',
    );
    const production = {
      env: 'production',
      publicUrl: 'https://pay.example.com',
      security: { trustedProxies: ['10.0.0.1'] },
      checkout: { secret: 'env:CHECKOUT' },
      webhooks: { secretKey: 'env:HOOK_KEY' },
      apps: [{ appId: 'a1', merchantId: 'm1', secret: 'env:APP' }],
      alipay: [{ merchantId: 'm1', appId: '2021', privateKey: 'env:ALIPAY_KEY', alipayPublicKey: 'x' }],
    };
    const env = { CHECKOUT: 'c'.repeat(40), APP: 'a'.repeat(40), ALIPAY_KEY: 'k', HOOK_KEY: 'h'.repeat(40) };
    expect(errorOf(() => loadServiceConfig({ env, configPath: withFile(production).path }))).toContain(
      'set ENCRYPTION_KEY or encryption.keys',
    );
    expect(
      loadServiceConfig({
        env: { ...env, ENCRYPTION_KEY: key.toString('hex') },
        configPath: withFile(production).path,
      }).sealing,
    ).toMatchObject({ fields: ['user_info'] });
    const off = withFile({ ...production, encryption: { fields: [] } });
    expect(loadServiceConfig({ env, configPath: off.path }).sealing).toBeNull();
    const inline = withFile({ ...production, encryption: { keys: { k1: key.toString('hex') } } });
    expect(errorOf(() => loadServiceConfig({ env, configPath: inline.path }))).toContain(
      'encryption.keys.k1 is written inline',
    );
  });
});
