/** The embedded cache: a bounded LRU in this process. */
import { LRUCache } from 'lru-cache';
import type { Cache, Versioned } from './cache.ts';

export function createMemoryCache(options: { max?: number } = {}): Cache {
  // Entries are stored as JSON text so a caller can never mutate a cached value in place.
  const lru = new LRUCache<string, string>({ max: options.max ?? 10_000, ttlAutopurge: false });
  const read = <T>(key: string): T | undefined => {
    const text = lru.get(key);
    return text === undefined ? undefined : (JSON.parse(text) as T);
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
      const current = read<number>(key);
      if (current === undefined) {
        lru.set(key, '1', { ttl: ttlMs });
        return 1;
      }
      // Keep the window's original expiry: read what is left of it.
      const remaining = lru.getRemainingTTL(key);
      lru.set(key, String(current + 1), { ttl: remaining > 0 ? remaining : ttlMs });
      return current + 1;
    },
    async delete(key) {
      lru.delete(key);
    },
    async close() {
      lru.clear();
    },
  };
}
