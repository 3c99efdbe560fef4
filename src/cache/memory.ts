/** The embedded cache: a bounded LRU in this process. */
import { LRUCache } from 'lru-cache';
import type { Cache, Versioned } from './cache.ts';

/**
 * A deep, frozen copy with JSON's semantics (dates become strings, as they would through Redis).
 * Readers share it without copying, and none of them can change it for the others.
 */
function frozenCopy(value: unknown): unknown {
  const copy = JSON.parse(JSON.stringify(value)) as unknown;
  const freeze = (item: unknown): void => {
    if (item === null || typeof item !== 'object') return;
    Object.freeze(item);
    for (const child of Object.values(item)) freeze(child);
  };
  freeze(copy);
  return copy;
}

export function createMemoryCache(options: { max?: number } = {}): Cache {
  // Writes copy once; reads, the hot path (a cached query), hand out the frozen copy itself.
  const lru = new LRUCache<string, NonNullable<unknown>>({ max: options.max ?? 10_000, ttlAutopurge: false });
  const read = <T>(key: string): T | undefined => lru.get(key) as T | undefined;
  const store = (key: string, value: unknown, ttlMs: number) => {
    const copy = frozenCopy(value);
    if (copy === null || copy === undefined) lru.delete(key);
    else lru.set(key, copy, { ttl: ttlMs });
  };
  return {
    kind: 'memory',
    async get<T>(key: string) {
      return read<T>(key);
    },
    async set(key, value, ttlMs) {
      store(key, value, ttlMs);
    },
    async setIfNewer(key, version, value, ttlMs) {
      const current = read<Versioned<unknown>>(key);
      if (current !== undefined && current.version >= version) return false;
      store(key, { version, value }, ttlMs);
      return true;
    },
    async setIfAbsent(key, value, ttlMs) {
      if (lru.has(key)) return false;
      store(key, value, ttlMs);
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
