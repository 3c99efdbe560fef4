/**
 * Redis going away under a connected cache: commands fail at once (the callers fall back to the
 * store or answer busy) rather than waiting seconds in the offline queue, and the cache works again
 * by itself once Redis is back. Redis is reached through a TCP relay the test cuts and restores.
 * Runs only with VKPAY_TEST_REDIS_URL.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cache } from '../../src/cache/cache.ts';
import { createRedisCache } from '../../src/cache/redis.ts';
import { serverUrls, uniqueName } from '../support/backends.ts';

describe.skipIf(!serverUrls.redisUrl)('the Redis cache while Redis is unreachable', () => {
  const target = new URL(serverUrls.redisUrl ?? 'redis://127.0.0.1:6379');
  const sockets = new Set<Socket>();
  let relay: Server | null = null;
  let port = 0;
  let cache: Cache;

  const openRelay = () =>
    new Promise<void>((resolve) => {
      relay = createServer((client) => {
        const upstream = connect(Number(target.port || 6379), target.hostname);
        sockets.add(client).add(upstream);
        client.pipe(upstream).pipe(client);
        const close = () => {
          client.destroy();
          upstream.destroy();
        };
        client.on('error', close).on('close', close);
        upstream.on('error', close).on('close', close);
      });
      relay.listen(port, '127.0.0.1', () => {
        const address = relay!.address();
        port = typeof address === 'object' && address ? address.port : 0;
        resolve();
      });
    });
  const cutRelay = async () => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    await new Promise<void>((resolve) => relay!.close(() => resolve()));
  };

  beforeAll(async () => {
    await openRelay();
    const url = new URL(target.href);
    url.port = String(port);
    cache = await createRedisCache({ url: url.href, prefix: `${uniqueName('out')}:` });
  });
  afterAll(async () => {
    await cache?.close().catch(() => {});
    if (relay?.listening) await cutRelay();
  });

  it('fails commands at once while Redis is away, and works again when it returns', async () => {
    await cache.set('k', 1, 60_000);
    await cutRelay();
    await sleep(100);
    for (const command of [
      () => cache.get('k'),
      () => cache.setIfAbsent('nonce', 1, 60_000),
      () => cache.increment('rl', 60_000),
    ]) {
      const started = performance.now();
      await expect(command()).rejects.toThrow();
      expect(performance.now() - started).toBeLessThan(500);
    }
    await openRelay();
    let value: unknown;
    for (let i = 0; i < 100 && value === undefined; i++) {
      value = await cache.get('k').catch(() => undefined);
      if (value === undefined) await sleep(100);
    }
    expect(value).toBe(1);
  });
});
