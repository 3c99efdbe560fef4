import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadServiceConfig } from '../../src/config/service-config.ts';
import { buildApp } from '../../src/http/app.ts';
import type { VkPay } from '../../src/vk-pay.ts';
import { backends } from '../support/backends.ts';

describe('the API reference at /docs', () => {
  let vkPay: VkPay;
  beforeAll(async () => {
    vkPay = await backends[0]!.open();
  });
  afterAll(async () => {
    await vkPay.close();
  });

  it('is served unless turned off, and then answers 404 like any unknown route', async () => {
    const on = await buildApp({ vkPay });
    const page = await on.inject({ method: 'GET', url: '/docs/' });
    expect(page.statusCode).toBe(200);
    expect((await on.inject({ method: 'GET', url: '/docs/json' })).json()).toMatchObject({
      openapi: expect.any(String),
    });
    await on.close();

    const off = await buildApp({ vkPay, docs: false });
    for (const url of ['/docs', '/docs/', '/docs/json', '/docs/static/index.html']) {
      const answer = await off.inject({ method: 'GET', url });
      expect(answer.statusCode, url).toBe(404);
      expect(answer.body).not.toContain('swagger');
    }
    await off.close();
  });

  it('is off in production unless the file or VKPAY_DOCS turns it on, and on elsewhere', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'vkpay-docs-'));
    const docs = (env: Record<string, string>) => loadServiceConfig({ env, cwd }).docs;
    expect(docs({})).toBe(true);
    expect(docs({ VKPAY_DOCS: '0' })).toBe(false);
    expect(docs({ NODE_ENV: 'test' })).toBe(true);
  });
});
