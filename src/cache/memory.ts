/** The embedded cache: a bounded LRU in this process. */
import { LRUCache } from 'lru-cache';
import type { Cache, Versioned } from './cache.ts';

export function createMemoryCache(options: { max?: number } = {}): Cache {
  // Values are stored as JSON text so a caller can never mutate a cached value in place; counters,
  // the hottest entries (a rate limit per request), as plain numbers.
  const lru = new LRUCache<string, string | number>({ max: options.max ?? 10_000, ttlAutopurge: false });
  const read = <T>(key: string): T | undefined => {
    const stored = lru.get(key);
    return stored === undefined
      ? undefined
      : typeof stored === 'number'
        ? (stored as T)
        : (JSON.parse(stored) as T);
  };
  return {
    kind: 'memory',
    async get<T>(key: string) {
      return read<T>(key);
    },
    async set(key, value, ttlMs) {
      lru.set(key, JSON.stringify(value), { ttl: ttlMs });
    },
    async setIfNewer(key, version, value, ttlMs) {
      const current = read<Versioned<unknown>>(key);
      if (current !== undefined && current.version >= version) return false;
      lru.set(key, JSON.stringify({ version, value }), { ttl: ttlMs });
      return true;
    },
    async setIfAbsent(key, value, ttlMs) {
      if (lru.has(key)) return false;
      lru.set(key, JSON.stringify(value), { ttl: ttlMs });
      return true;
    },
    async increment(key, ttlMs) {
      const current = lru.get(key);
      const next = typeof current === 'number' ? current + 1 : 1;
      // The window expires ttlMs after its first increment, not after the latest one.
      lru.set(key, next, next === 1 ? { ttl: ttlMs } : { noUpdateTTL: true });
      return next;
    },
    async delete(key) {
      lru.delete(key);
    },
    async close() {
      lru.clear();
    },
  };
}
