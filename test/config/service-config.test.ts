import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config.ts';
import { loadServiceConfig } from '../../src/config/service-config.ts';

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
