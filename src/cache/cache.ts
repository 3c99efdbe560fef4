/**
 * One cache interface with two homes: process memory (embedded) and Redis (shared by every
 * instance). Values are JSON; times are in milliseconds.
 */

export interface Cache {
  readonly kind: 'memory' | 'redis';
  get<T>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown, ttlMs: number): Promise<void>;
  /**
   * Stores `value` only if the entry is absent or carries a lower version. A reader that fetched a
   * row before a writer committed cannot overwrite the writer's newer copy.
   */
  setIfNewer(key: string, version: number, value: unknown, ttlMs: number): Promise<boolean>;
  /** Stores `value` only if the key is absent. Returns true when it did (replay nonces, locks). */
  setIfAbsent(key: string, value: unknown, ttlMs: number): Promise<boolean>;
  /** Adds one to a counter that expires `ttlMs` after its first increment; returns the new count. */
  increment(key: string, ttlMs: number): Promise<number>;
  delete(key: string): Promise<void>;
  /**
   * Tells every subscriber of `channel` (on every instance, with Redis) that something changed.
   * Delivery is best effort: a listener must still read the store, and not rely on the message.
   */
  publish(channel: string, message: string): Promise<void>;
  /** Calls `listener` for each message published on `channel` from now on. Returns an unsubscribe. */
  subscribe(channel: string, listener: (message: string) => void): Promise<() => void>;
  close(): Promise<void>;
}

export interface Versioned<T> {
  version: number;
  value: T;
}
