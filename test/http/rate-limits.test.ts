import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiApp, DEFAULT_SECURITY } from '../../src/config/security.ts';
import { loadServiceConfig } from '../../src/config/service-config.ts';
import { buildApp } from '../../src/http/app.ts';
import type { VkPay } from '../../src/vk-pay.ts';
import { backends } from '../support/backends.ts';
import { MERCHANT } from '../support/orders.ts';
import { signed } from '../support/signed-client.ts';

const shop: ApiApp = { appId: 'rl-shop', merchantId: MERCHANT, secret: 's'.repeat(40) };
const small: ApiApp = {
  appId: 'rl-small',
  merchantId: MERCHANT,
  secret: 'm'.repeat(40),
  rateLimits: { create: { windowMs: 60_000, max: 2 } },
};
const createBody = (outTradeNo: string) => ({
  provider: 'wxpay',
  out_trade_no: outTradeNo,
  total_fee: 100,
  subject: 'rate limits',
  type: 'goods',
});
const checkoutBody = { out_trade_no: 'RLCHECKOUT0001', total_fee: 100, subject: 'socks', type: 'goods' };

describe.each(backends)('rate limits on $name', (backend) => {
  let vkPay: VkPay;
  let app: FastifyInstance;
  // One frozen clock: every request of a test falls in the same window.
  const start = Date.now();

  beforeAll(async () => {
    vkPay = await backend.open();
    app = await buildApp({ vkPay, apps: [shop, small], now: () => start });
  });
  afterAll(async () => {
    await app.close();
    await vkPay.close();
  });

  const checkoutToken = async () => {
    const made = await app.inject(signed(shop, 'POST', '/api/checkouts', checkoutBody));
    expect(made.statusCode).toBe(200);
    return made.json().data.checkout.token as string;
  };

  it("allows the cashier the seed's 100 requests a minute per client IP, then answers 429", async () => {
    const token = await checkoutToken();
    const statuses: number[] = [];
    for (let i = 0; i < 100; i++) {
      const response = await app.inject({
        method: 'GET',
        url: `/checkout/${token}/status`,
        remoteAddress: '198.51.100.1',
      });
      statuses.push(response.statusCode);
    }
    expect(statuses.every((status) => status === 200)).toBe(true);
    // The static assets are not counted.
    const asset = await app.inject({
      method: 'GET',
      url: '/checkout/assets/cashier.css',
      remoteAddress: '198.51.100.1',
    });
    expect(asset.statusCode).toBe(200);
    const over = await app.inject({
      method: 'GET',
      url: `/checkout/${token}/status`,
      remoteAddress: '198.51.100.1',
    });
    expect(over.statusCode).toBe(429);
    expect(over.json()).toMatchObject({ code: 40008, requestId: expect.any(String) });
    expect(over.headers).toMatchObject({ 'ratelimit-limit': '100', 'ratelimit-remaining': '0' });
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(over.headers['ratelimit-reset'])).toBeGreaterThan(0);
    const neighbour = await app.inject({
      method: 'GET',
      url: `/checkout/${token}/status`,
      remoteAddress: '198.51.100.2',
    });
    expect(neighbour.statusCode).toBe(200);
    expect(neighbour.headers).toMatchObject({ 'ratelimit-limit': '100', 'ratelimit-remaining': '99' });
  });

  it('answers a cashier page over the limit with a page in Chinese and English', async () => {
    const token = await checkoutToken();
    for (let i = 0; i < 100; i++)
      await app.inject({ method: 'GET', url: `/checkout/${token}/status`, remoteAddress: '198.51.100.3' });
    const page = await app.inject({
      method: 'GET',
      url: `/checkout/${token}`,
      remoteAddress: '198.51.100.3',
    });
    expect(page.statusCode).toBe(429);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(Number(page.headers['retry-after'])).toBeGreaterThan(0);
    expect(page.headers['ratelimit-remaining']).toBe('0');
    expect(page.body).toContain('请求过于频繁');
    expect(page.body).toContain('Too many requests');
    expect(page.body).toMatch(/\/checkout\/assets\/cashier\.[0-9a-f]{12}\.css/);
    expect(page.body).toContain('lang="zh-CN"');
    const english = await app.inject({
      method: 'GET',
      url: `/checkout/${token}?lang=en`,
      remoteAddress: '198.51.100.3',
    });
    expect(english.body).toContain('lang="en"');
    expect(english.body.indexOf('Too many requests')).toBeLessThan(english.body.indexOf('请求过于频繁'));
  });

  it('gives each signed app its own budget per route class: spent creates do not block queries', async () => {
    const creates = [];
    for (let i = 0; i < 3; i++)
      creates.push(await app.inject(signed(small, 'POST', '/api/payments', createBody(`RLSMALL00000${i}`))));
    expect(creates.map((response) => response.statusCode === 429)).toEqual([false, false, true]);
    expect(creates.map((response) => response.headers['ratelimit-remaining'])).toEqual(['1', '0', '0']);
    expect(creates[0]!.headers['ratelimit-limit']).toBe('2');
    expect(creates[0]!.headers['ratelimit-policy']).toBe('2;w=60');
    expect(creates[2]!.json().code).toBe(40008);
    expect(Number(creates[2]!.headers['retry-after'])).toBeGreaterThan(0);
    // A checkout is a create too.
    expect((await app.inject(signed(small, 'POST', '/api/checkouts', checkoutBody))).statusCode).toBe(429);

    const query = await app.inject(signed(small, 'GET', '/api/payments/RLSMALL000000'));
    expect(query.statusCode).not.toBe(429);
    expect(query.headers['ratelimit-limit']).toBe(String(DEFAULT_SECURITY.appRateLimits.query.max));
    const refund = await app.inject(
      signed(small, 'POST', '/api/refunds', {
        out_trade_no: 'RLSMALL000000',
        out_refund_no: 'RLREFUND000000',
        refund_fee: 1,
      }),
    );
    expect(refund.statusCode).not.toBe(429);
    expect(refund.headers['ratelimit-limit']).toBe(String(DEFAULT_SECURITY.appRateLimits.refund.max));
    const reviews = await app.inject(signed(small, 'GET', '/api/reviews'));
    expect(reviews.statusCode).toBe(200);
    expect(reviews.headers['ratelimit-limit']).toBe(String(DEFAULT_SECURITY.appRateLimits.other.max));

    // Another app's creates have their own budget.
    const other = await app.inject(signed(shop, 'POST', '/api/payments', createBody('RLSHOP0000001')));
    expect(other.statusCode).not.toBe(429);
    expect(other.headers['ratelimit-limit']).toBe(String(DEFAULT_SECURITY.appRateLimits.create.max));
  });

  it("spends an address's budget on requests that fail authentication, never a verified app's", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 101; i++) {
      const response = await app.inject({
        method: 'GET',
        url: '/api/payments/RLNOSUCHORDER',
        remoteAddress: '203.0.113.7',
      });
      statuses.push(response.statusCode);
    }
    expect(statuses.slice(0, 100).every((status) => status === 401)).toBe(true);
    expect(statuses[100]).toBe(429);
    const verified = await app.inject({
      ...signed(shop, 'GET', '/api/payments/RLNOSUCHORDER'),
      remoteAddress: '203.0.113.7',
    });
    expect(verified.statusCode).toBe(404);
    expect(verified.json().code).toBe(40005);
  });

  it('does not throttle when limits are off (the development default)', async () => {
    const open = await buildApp({
      vkPay,
      apps: [small],
      security: { rateLimitsEnabled: false },
      now: () => start,
    });
    try {
      for (let i = 0; i < 5; i++) {
        const response = await open.inject(
          signed(small, 'POST', '/api/payments', createBody(`RLOPEN00000${i}`)),
        );
        expect(response.statusCode).not.toBe(429);
        expect(response.headers['ratelimit-limit']).toBeUndefined();
      }
      for (let i = 0; i < 120; i++) {
        const response = await open.inject({
          method: 'GET',
          url: '/checkout/not-a-token/status',
          remoteAddress: '198.51.100.9',
        });
        expect(response.statusCode).not.toBe(429);
      }
    } finally {
      await open.close();
    }
  });
});

describe('rate limit configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vkpay-limits-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const load = (env: Record<string, string>, file?: unknown) => {
    const configPath = join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
    if (file !== undefined) writeFileSync(configPath, JSON.stringify(file));
    return loadServiceConfig({
      env: { VKPAY_DATA_DIR: 'memory', ...env },
      cwd: dir,
      ...(file === undefined ? {} : { configPath }),
    });
  };

  it('is off in development, on in testing, and a development file may turn it on', () => {
    expect(load({ VKPAY_ENV: 'development' }).security.rateLimitsEnabled).toBe(false);
    const testing = load({ VKPAY_ENV: 'testing' }).security;
    expect(testing.rateLimitsEnabled).toBe(true);
    expect(testing.ipRateLimit).toEqual({ windowMs: 60_000, max: 100 });
    expect(testing.appRateLimits).toEqual({
      create: { windowMs: 60_000, max: 3000 },
      query: { windowMs: 60_000, max: 12_000 },
      refund: { windowMs: 60_000, max: 600 },
      other: { windowMs: 60_000, max: 600 },
    });
    expect(
      load({ VKPAY_ENV: 'development' }, { security: { rateLimitsEnabled: true } }).security
        .rateLimitsEnabled,
    ).toBe(true);
  });

  it('reads budgets per route class, for the service and per app', () => {
    const config = load(
      { VKPAY_ENV: 'testing' },
      {
        security: { appRateLimits: { query: { max: 30_000 } }, ipRateLimit: { max: 50, windowMs: 10_000 } },
        apps: [
          {
            appId: 'big',
            merchantId: 'shop1',
            secret: 'b'.repeat(40),
            rateLimits: { create: { max: 9000 }, refund: { max: 10, windowMs: 1000 } },
          },
        ],
      },
    );
    expect(config.security.appRateLimits.query).toEqual({ windowMs: 60_000, max: 30_000 });
    expect(config.security.appRateLimits.create).toEqual({ windowMs: 60_000, max: 3000 });
    expect(config.security.ipRateLimit).toEqual({ windowMs: 10_000, max: 50 });
    expect(config.apps[0]!.rateLimits).toEqual({
      create: { windowMs: 60_000, max: 9000 },
      refund: { windowMs: 1000, max: 10 },
    });
  });

  it('refuses an unknown route class, a bad budget and the old single limit, naming the field', () => {
    const app = { appId: 'a', merchantId: 'shop1', secret: 'a'.repeat(40) };
    expect(() => load({}, { security: { appRateLimits: { pay: { max: 1 } } } })).toThrow(
      /security\.appRateLimits\.pay is not a route class/,
    );
    expect(() => load({}, { security: { appRateLimits: { create: { max: 0 } } } })).toThrow(
      /security\.appRateLimits\.create\.max must be a positive integer/,
    );
    expect(() => load({}, { security: { rateLimit: { windowMs: 60_000, max: 100 } } })).toThrow(
      /security\.rateLimit is replaced by security\.appRateLimits/,
    );
    expect(() => load({}, { apps: [{ ...app, rateLimit: { windowMs: 60_000, max: 100 } }] })).toThrow(
      /apps\[0\]\.rateLimit is replaced by apps\[0\]\.rateLimits/,
    );
    expect(() => load({}, { apps: [{ ...app, rateLimits: { query: 5 } }] })).toThrow(
      /apps\[0\]\.rateLimits\.query must be an object/,
    );
  });
});
