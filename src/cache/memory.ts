/** The embedded cache: a bounded LRU in this process. */
import { EventEmitter } from 'node:events';
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

/**
 * Counters (the rate limits' windows), kept apart from the LRU: counting is on every API request,
 * and a plain map with an expiry per entry does it without the LRU's bookkeeping. Expired entries
 * are swept when the map reaches its bound; if that frees too little, the oldest are dropped.
 */
class Counters {
  readonly #entries = new Map<string, { count: number; expiresAt: number }>();
  constructor(readonly max: number) {}

  increment(key: string, ttlMs: number, now = Date.now()): number {
    const entry = this.#entries.get(key);
    // The window expires ttlMs after its first increment, not after the latest one.
    if (entry && entry.expiresAt > now) return ++entry.count;
    if (entry) this.#entries.delete(key);
    else if (this.#entries.size >= this.max) this.#sweep(now);
    this.#entries.set(key, { count: 1, expiresAt: now + ttlMs });
    return 1;
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }

  #sweep(now: number): void {
    for (const [key, entry] of this.#entries) if (entry.expiresAt <= now) this.#entries.delete(key);
    // Still nearly full: drop the oldest (a map iterates in insertion order), leaving room so the
    // next new keys do not each pay for a sweep.
    const keep = Math.floor(this.max * 0.9);
    for (const key of this.#entries.keys()) {
      if (this.#entries.size <= keep) break;
      this.#entries.delete(key);
    }
  }
}

export function createMemoryCache(options: { max?: number } = {}): Cache {
  // Writes copy once; reads, the hot path (a cached query), hand out the frozen copy itself.
  const lru = new LRUCache<string, NonNullable<unknown>>({ max: options.max ?? 10_000, ttlAutopurge: false });
  const counters = new Counters(options.max ?? 10_000);
  const channels = new EventEmitter();
  // Every request waiting on an order listens on its own channel; there is no useful bound.
  channels.setMaxListeners(0);
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
      return counters.increment(key, ttlMs);
    },
    async delete(key) {
      lru.delete(key);
      counters.delete(key);
    },
    async publish(channel, message) {
      channels.emit(channel, message);
    },
    async subscribe(channel, listener) {
      channels.on(channel, listener);
      return () => channels.off(channel, listener);
    },
    async close() {
      lru.clear();
      counters.clear();
      channels.removeAllListeners();
    },
  };
}
