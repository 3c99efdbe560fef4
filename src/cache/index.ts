import type { Cache } from './cache.ts';
import { createMemoryCache } from './memory.ts';
import { createRedisCache } from './redis.ts';

export type { Cache, Versioned } from './cache.ts';
export { createMemoryCache } from './memory.ts';
export { createRedisCache } from './redis.ts';

/** Redis when a URL is given, otherwise the in-process cache. */
export async function openCache(config: { redisUrl?: string | undefined; prefix?: string }): Promise<Cache> {
  if (config.redisUrl)
    return createRedisCache({ url: config.redisUrl, ...(config.prefix ? { prefix: config.prefix } : {}) });
  return createMemoryCache();
}
