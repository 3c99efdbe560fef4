import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cache } from '../../src/cache/cache.ts';
import { createMemoryCache } from '../../src/cache/memory.ts';
import { createRedisCache } from '../../src/cache/redis.ts';
import { serverUrls, uniqueName } from '../support/backends.ts';

const caches: Array<{ name: string; open: () => Promise<Cache> }> = [
  { name: 'memory', open: async () => createMemoryCache() },
];
if (serverUrls.redisUrl) {
  const url = serverUrls.redisUrl;
  caches.push({ name: 'redis', open: () => createRedisCache({ url, prefix: `${uniqueName('c')}:` }) });
}

describe.each(caches)('$name cache', ({ open }) => {
  let cache: Cache;
  beforeAll(async () => {
    cache = await open();
  });
  afterAll(async () => {
    await cache.close();
  });

  it('keeps a value until its time is up', async () => {
    await cache.set('a', { status: 'SUCCESS' }, 80);
    expect(await cache.get('a')).toEqual({ status: 'SUCCESS' });
    await sleep(150);
    expect(await cache.get('a')).toBeUndefined();
  });

  it('never lets an older version overwrite a newer one', async () => {
    expect(await cache.setIfNewer('o', 2, { status: 'SUCCESS' }, 10_000)).toBe(true);
    expect(await cache.setIfNewer('o', 1, { status: 'NOTPAY' }, 10_000)).toBe(false);
    expect(await cache.setIfNewer('o', 2, { status: 'NOTPAY' }, 10_000)).toBe(false);
    expect(await cache.get('o')).toEqual({ version: 2, value: { status: 'SUCCESS' } });
    expect(await cache.setIfNewer('o', 3, { status: 'REFUNDED' }, 10_000)).toBe(true);
    expect(await cache.get('o')).toEqual({ version: 3, value: { status: 'REFUNDED' } });
  });

  it('stores a nonce once', async () => {
    expect(await cache.setIfAbsent('nonce', 1, 10_000)).toBe(true);
    expect(await cache.setIfAbsent('nonce', 1, 10_000)).toBe(false);
  });

  it('counts within a window that starts at the first hit', async () => {
    expect(await cache.increment('hits', 120)).toBe(1);
    expect(await cache.increment('hits', 120)).toBe(2);
    expect(await cache.increment('hits', 120)).toBe(3);
    await sleep(200);
    expect(await cache.increment('hits', 120)).toBe(1);
  });

  it('deletes', async () => {
    await cache.set('d', 1, 10_000);
    await cache.delete('d');
    expect(await cache.get('d')).toBeUndefined();
  });

  it('keeps what was stored, whatever the writer or a reader does with its object afterwards', async () => {
    const value = { n: 1, nested: { m: 1 } };
    await cache.set('copy', value, 10_000);
    value.n = 2;
    value.nested.m = 2;
    const read = await cache.get<{ n: number; nested: { m: number } }>('copy');
    expect(read).toEqual({ n: 1, nested: { m: 1 } });
    try {
      read!.nested.m = 3;
    } catch {
      // A shared, frozen entry refuses the change (memory cache); a fresh copy takes it (Redis).
    }
    expect(await cache.get('copy')).toEqual({ n: 1, nested: { m: 1 } });
  });
});

describe('memory cache counters', () => {
  it('stay within their bound: past it the oldest windows go, the newest keep counting', async () => {
    const cache = createMemoryCache({ max: 10 });
    for (let i = 0; i < 25; i++) expect(await cache.increment(`ip:${i}`, 60_000)).toBe(1);
    expect(await cache.increment('ip:24', 60_000)).toBe(2);
    expect(await cache.increment('ip:23', 60_000)).toBe(2);
    // ip:0 was dropped for room, so it starts a new window.
    expect(await cache.increment('ip:0', 60_000)).toBe(1);
    await cache.close();
  });
});
