import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config.ts';
import { loadServiceConfig } from '../../src/config/service-config.ts';
import { buildAdminApp } from '../../src/http/admin-app.ts';
import { buildApp, type VkPayApp } from '../../src/http/app.ts';
import type { VkPay } from '../../src/vk-pay.ts';
import { backends } from '../support/backends.ts';

describe('console.enabled', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'vkpay-console-config-'));
  const load = (env: Record<string, string>, file?: unknown) => {
    const path = join(cwd, 'vk-pay.config.json');
    writeFileSync(path, JSON.stringify(file ?? {}));
    return loadServiceConfig({ env, cwd, configPath: path }).console;
  };

  it('is on by default, turned off by VKPAY_CONSOLE=0 or the file, the variable winning', () => {
    expect(load({})).toEqual({ enabled: true });
    expect(load({ VKPAY_CONSOLE: '0' })).toEqual({ enabled: false });
    expect(load({}, { console: { enabled: false } })).toEqual({ enabled: false });
    expect(load({ VKPAY_CONSOLE: '1' }, { console: { enabled: false } })).toEqual({ enabled: true });
  });

  it('refuses a value it does not understand', () => {
    expect(() => load({ VKPAY_CONSOLE: 'yes' })).toThrow(ConfigError);
    expect(() => load({}, { console: { enabled: 'no' } })).toThrow('console.enabled must be true or false');
    expect(() => load({}, { console: { enable: true } })).toThrow('console has no setting enable');
    expect(() => load({}, { console: [] })).toThrow(ConfigError);
  });
});

describe('where the console is served', () => {
  let vkPay: VkPay;
  beforeAll(async () => {
    vkPay = await backends[0]!.open();
  }, 300_000);
  afterAll(async () => {
    await vkPay.close();
  });

  it('is on the service and on the admin listener, and answers 404 on both when turned off', async () => {
    const on = await buildApp({ vkPay });
    const admin = await buildAdminApp({ vkPay, metrics: (on as VkPayApp).metrics, allowlist: ['127.0.0.1'] });
    for (const app of [on, admin]) {
      const page = await app.inject({
        method: 'GET',
        url: '/console/login',
        headers: { accept: 'text/html' },
      });
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('name="_csrf"');
    }
    await admin.close();
    const off = await buildApp({ vkPay, console: false });
    const offAdmin = await buildAdminApp({
      vkPay,
      metrics: (off as VkPayApp).metrics,
      allowlist: ['127.0.0.1'],
      console: false,
    });
    for (const app of [off, offAdmin]) {
      const answer = await app.inject({ method: 'GET', url: '/console/login' });
      expect(answer.statusCode).toBe(404);
      expect(answer.json()).toMatchObject({ code: 40001 });
    }
    await offAdmin.close();
    await off.close();
    await on.close();
  });
});
