/**
 * The shared cache: Redis, so every instance sees the same entries, counters and nonces. One Redis,
 * a master behind Sentinel, or a Redis Cluster (see redis-url.ts for the URL forms). Every command
 * touches one key (the Lua scripts too, through KEYS[1]), so a cluster needs no hash tags.
 */
import { Cluster, Redis } from 'ioredis';
import type { Cache, Versioned } from './cache.ts';
import { parseRedisUrl } from './redis-url.ts';

// Compares versions inside Redis so two instances racing on one key cannot interleave.
const SET_IF_NEWER = `
local current = redis.call('GET', KEYS[1])
if current then
  local ok, decoded = pcall(cjson.decode, current)
  if ok and type(decoded) == 'table' and tonumber(decoded.version) and tonumber(decoded.version) >= tonumber(ARGV[1]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`;

const INCREMENT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count
`;

export interface RedisCacheOptions {
  url: string;
  /** Prepended to every key, so several deployments (or test files) can share one Redis. */
  prefix?: string;
}

type Client = Redis | Cluster;

/** A client for the URL's topology, not yet connected. */
function clientFor(url: string, keyPrefix: string): Client {
  const common = { keyPrefix, lazyConnect: true, enableOfflineQueue: true } as const;
  const target = parseRedisUrl(url);
  if (target.mode === 'standalone') return new Redis(url, { ...common, maxRetriesPerRequest: 2 });
  const credentials = {
    ...(target.username ? { username: target.username } : {}),
    ...(target.password ? { password: target.password } : {}),
  };
  if (target.mode === 'sentinel') {
    return new Redis({
      ...common,
      ...credentials,
      maxRetriesPerRequest: 2,
      sentinels: target.sentinels,
      name: target.name,
      db: target.db,
      ...(target.sentinelUsername ? { sentinelUsername: target.sentinelUsername } : {}),
      ...(target.sentinelPassword ? { sentinelPassword: target.sentinelPassword } : {}),
      ...(target.tls ? { tls: {}, sentinelTLS: {}, enableTLSForSentinelMode: true } : {}),
    });
  }
  return new Cluster(target.nodes, {
    ...common,
    redisOptions: { ...credentials, maxRetriesPerRequest: 2, ...(target.tls ? { tls: {} } : {}) },
  });
}

export async function createRedisCache(options: RedisCacheOptions): Promise<Cache> {
  const redis = clientFor(options.url, options.prefix ?? 'vkpay:');
  await redis.connect();
  // Once connected, a command sent while the connection is down fails at once instead of waiting
  // in the offline queue for reconnection attempts (seconds per command, past request timeouts):
  // callers fall back to the store, or refuse as busy, while Redis is away.
  if (redis instanceof Redis) redis.options.enableOfflineQueue = false;
  // Pub/sub needs a connection of its own; it is opened on the first subscription. Channels are not
  // keys, so the prefix is added by hand to keep deployments sharing one Redis apart.
  const prefix = options.prefix ?? 'vkpay:';
  const listeners = new Map<string, Set<(message: string) => void>>();
  let subscriber: Client | null = null;
  const subscriberConnection = async (): Promise<Client> => {
    if (subscriber) return subscriber;
    const connection =
      redis instanceof Cluster
        ? redis.duplicate([], { keyPrefix: '' })
        : redis.duplicate({ keyPrefix: '', enableOfflineQueue: true });
    connection.on('message', (channel: string, message: string) => {
      for (const listener of listeners.get(channel.slice(prefix.length)) ?? []) listener(message);
    });
    // A lost subscriber connection reconnects and resubscribes by itself (ioredis); waiters fall back
    // to reading the store meanwhile.
    connection.on('error', () => {});
    subscriber = connection;
    return connection;
  };
  return {
    kind: 'redis',
    async get<T>(key: string) {
      const text = await redis.get(key);
      return text === null ? undefined : (JSON.parse(text) as T);
    },
    async set(key, value, ttlMs) {
      await redis.set(key, JSON.stringify(value), 'PX', ttlMs);
    },
    async setIfNewer(key, version, value, ttlMs) {
      const entry: Versioned<unknown> = { version, value };
      const stored = await redis.eval(
        SET_IF_NEWER,
        1,
        key,
        String(version),
        JSON.stringify(entry),
        String(ttlMs),
      );
      return stored === 1;
    },
    async setIfAbsent(key, value, ttlMs) {
      const stored = await redis.set(key, JSON.stringify(value), 'PX', ttlMs, 'NX');
      return stored === 'OK';
    },
    async increment(key, ttlMs) {
      return Number(await redis.eval(INCREMENT, 1, key, String(ttlMs)));
    },
    async delete(key) {
      await redis.del(key);
    },
    async publish(channel, message) {
      await redis.publish(`${prefix}${channel}`, message);
    },
    async subscribe(channel, listener) {
      const connection = await subscriberConnection();
      let set = listeners.get(channel);
      if (!set) {
        set = new Set();
        listeners.set(channel, set);
        await connection.subscribe(`${prefix}${channel}`);
      }
      set.add(listener);
      return () => {
        const current = listeners.get(channel);
        if (!current?.delete(listener) || current.size > 0) return;
        listeners.delete(channel);
        connection.unsubscribe(`${prefix}${channel}`).catch(() => {});
      };
    },
    async close() {
      if (subscriber) await subscriber.quit().catch(() => {});
      await redis.quit();
    },
  };
}
