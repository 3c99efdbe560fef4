/**
 * The merchant API while the cache (Redis) is unreachable: a signed request cannot have its nonce
 * recorded, so it is refused as busy (40010, 503, retryable) instead of being let through or
 * answering 500; a forged one is still 40002; once the cache is back, requests pass and a replay is
 * refused again.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiApp } from '../../src/config/security.ts';
import { buildApp } from '../../src/http/app.ts';
import type { VkPay } from '../../src/vk-pay.ts';
import { backends } from '../support/backends.ts';
import { MERCHANT } from '../support/orders.ts';
import { signed } from '../support/signed-client.ts';

const shop: ApiApp = { appId: 'outage-shop', merchantId: MERCHANT, secret: 'o'.repeat(40) };

describe.each(backends)('merchant API with the cache down on $name', (backend) => {
  let vkPay: VkPay;
  let app: FastifyInstance;
  let restore: () => void = () => {};

  /** Every cache command fails as ioredis fails while Redis is down. */
  const breakCache = () => {
    const cache = vkPay.cache as unknown as Record<string, unknown>;
    const saved = { ...cache };
    for (const name of ['get', 'set', 'setIfNewer', 'setIfAbsent', 'increment', 'delete', 'publish'])
      cache[name] = () => Promise.reject(new Error('Connection is closed.'));
    restore = () => Object.assign(cache, saved);
  };

  beforeAll(async () => {
    vkPay = await backend.open();
    app = await buildApp({ vkPay, apps: [shop] });
  });
  afterAll(async () => {
    restore();
    await app.close();
    await vkPay.close();
  });

  it('refuses signed requests with 40010 while the nonce cannot be recorded, and recovers', async () => {
    const request = signed(shop, 'GET', '/api/payments/OUTAGE00001');
    breakCache();
    try {
      const refused = await app.inject(request);
      expect(refused.statusCode).toBe(503);
      expect(refused.json()).toMatchObject({ code: 40010 });
      // The same request again, still during the outage: refused the same way, never let through.
      const again = await app.inject(request);
      expect(again.statusCode).toBe(503);
      // A client mistake stays a client mistake.
      const forged = await app.inject(
        signed(shop, 'GET', '/api/payments/OUTAGE00001', undefined, { secret: 'x'.repeat(40) }),
      );
      expect(forged.statusCode).toBe(401);
      expect(forged.json()).toMatchObject({ code: 40002 });
    } finally {
      restore();
    }
    // Back: the refused request's nonce was never recorded, so it passes once; a replay is refused.
    const passed = await app.inject(request);
    expect(passed.statusCode).toBe(404);
    expect(passed.json()).toMatchObject({ code: 40005 });
    const replay = await app.inject(request);
    expect(replay.statusCode).toBe(401);
    expect(replay.json()).toMatchObject({ code: 40002, field: 'nonce' });
  });
});
