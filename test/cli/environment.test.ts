/**
 * `vk-pay` refuses to start in an environment it does not know, instead of starting as development
 * (unsigned requests, emulators, a demo merchant); the known names start.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCommand } from './run.ts';

const dir = mkdtempSync(join(tmpdir(), 'vkpay-env-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('vk-pay in an environment it does not know', () => {
  it.each([
    ['NODE_ENV', 'prod'],
    ['NODE_ENV', 'Production'],
    ['NODE_ENV', 'staging'],
    ['VKPAY_ENV', 'prod'],
  ])('refuses %s=%s with exit 2, naming the accepted values', async (variable, value) => {
    const result = await runCommand(['serve'], { [variable]: value, VKPAY_DATA_DIR: 'memory' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${variable} must be one of`);
    expect(result.stderr).toContain('development, testing, production');
    expect(result.stderr).toContain(JSON.stringify(value));
    expect(result.stdout).not.toContain('VK-Pay ready');
  });

  it.each(['development', 'test', 'testing'])('runs with NODE_ENV=%s', async (value) => {
    const result = await runCommand(['migrate'], { NODE_ENV: value, VKPAY_DATA_DIR: 'memory' });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('runs with NODE_ENV=production on a production configuration', async () => {
    const config = join(dir, 'production.json');
    writeFileSync(
      config,
      JSON.stringify({
        publicUrl: 'https://pay.example.com',
        apps: [{ appId: 'backend', merchantId: 'shop1', secret: 'env:TEST_APP_SECRET' }],
        checkout: { secret: 'env:TEST_CHECKOUT_SECRET' },
        webhooks: { secretKey: 'env:TEST_WEBHOOK_KEY' },
        security: { trustedProxies: ['127.0.0.1'] },
        encryption: { fields: [] },
        alipay: [{ merchantId: 'shop1', appId: '2021000000000001', privateKey: 'env:TEST_ALIPAY_KEY' }],
      }),
    );
    const result = await runCommand(['migrate'], {
      NODE_ENV: 'production',
      VKPAY_CONFIG: config,
      VKPAY_DATA_DIR: 'memory',
      TEST_APP_SECRET: 'a'.repeat(40),
      TEST_CHECKOUT_SECRET: 'c'.repeat(40),
      TEST_WEBHOOK_KEY: 'w'.repeat(40),
      TEST_ALIPAY_KEY: 'not parsed by migrate',
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });
});
