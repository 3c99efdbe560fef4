/**
 * Configuration: defaults for the embedded mode, overridden by environment variables. Everything
 * is checked at start, so a typo fails loudly instead of paying with a wrong setting.
 */
import { parseRedisUrl } from '../cache/redis-url.ts';
import { DEFAULT_MAX_FEN, HARD_MAX_FEN } from '../core/money.ts';
import { DEFAULT_POOL, type PoolConfig } from '../store/db.ts';

export type Environment = 'development' | 'testing' | 'production';

export interface VkPayConfig {
  env: Environment;
  /** PostgreSQL server URL; unset means the embedded PGlite database. */
  databaseUrl?: string | undefined;
  /** PGlite's data folder, or 'memory'. */
  dataDir: string;
  pool: PoolConfig;
  /** Redis URL; unset means the in-process cache. */
  redisUrl?: string | undefined;
  /** Largest amount of one order, in fen. */
  maxFen: number;
  /** Largest `custom` object, in bytes. */
  maxCustomBytes: number;
  /** How long a payment query answer stays cached. */
  resultCacheTtlMs: number;
  /** How long an order may be paid when the request sets no time_expire; then it is closed at the gateway. */
  orderExpireMs: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

export const DEFAULT_CONFIG: VkPayConfig = {
  env: 'development',
  dataDir: './data',
  pool: DEFAULT_POOL,
  maxFen: DEFAULT_MAX_FEN,
  maxCustomBytes: 4096,
  resultCacheTtlMs: 300_000,
  orderExpireMs: 2 * 3600_000,
  logLevel: 'info',
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function url(env: NodeJS.ProcessEnv, name: string, protocols: string[]): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`${name} is not a URL`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name} must start with ${protocols.join(' or ')}`);
  }
  return raw;
}

/** REDIS_URL: one Redis, Sentinel or Cluster (forms in src/cache/redis-url.ts); unset is the in-process cache. */
function redisUrl(env: NodeJS.ProcessEnv): string | undefined {
  const raw = env.REDIS_URL;
  if (raw === undefined || raw === '') return undefined;
  try {
    parseRedisUrl(raw);
  } catch (error) {
    throw new ConfigError(`REDIS_URL ${(error as Error).message}`);
  }
  return raw;
}

/** An on/off variable: 1/true or 0/false; unset or empty is undefined. */
export function booleanFlag(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (raw === '1' || raw === 'true') return true;
  if (raw === '0' || raw === 'false') return false;
  throw new ConfigError(`${name} must be 1 or 0 (true or false), got ${JSON.stringify(raw)}`);
}

export const ENVIRONMENTS: readonly Environment[] = ['development', 'testing', 'production'];

/**
 * NODE_ENV is shared with every tool, so its usual spellings are understood (test runners set
 * "test"); anything else is refused rather than guessed, since a guess of development would accept
 * unsigned requests. VKPAY_ENV, when set, decides alone.
 */
const NODE_ENV_NAMES = new Map<string, Environment>([
  ['development', 'development'],
  ['test', 'testing'],
  ['testing', 'testing'],
  ['production', 'production'],
]);

/** The environment named by `value` (exactly one of ENVIRONMENTS), or a ConfigError naming `source`. */
export function environmentNamed(value: string, source: string): Environment {
  if ((ENVIRONMENTS as readonly string[]).includes(value)) return value as Environment;
  throw new ConfigError(`${source} must be one of ${ENVIRONMENTS.join(', ')}, got ${JSON.stringify(value)}`);
}

function environmentOf(env: NodeJS.ProcessEnv): Environment {
  if (env.VKPAY_ENV) return environmentNamed(env.VKPAY_ENV, 'VKPAY_ENV');
  const nodeEnv = env.NODE_ENV;
  if (!nodeEnv) return 'development';
  const known = NODE_ENV_NAMES.get(nodeEnv);
  if (known) return known;
  throw new ConfigError(
    `NODE_ENV must be one of ${[...NODE_ENV_NAMES.keys()].join(', ')}, got ${JSON.stringify(nodeEnv)}; or set VKPAY_ENV (${ENVIRONMENTS.join(', ')}), which takes precedence`,
  );
}

/** Reads VKPAY_* (and DATABASE_URL, REDIS_URL, NODE_ENV) over the defaults. */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  overrides: Partial<VkPayConfig> = {},
): VkPayConfig {
  const environment = environmentOf(env);
  const logLevel = (env.VKPAY_LOG_LEVEL ?? DEFAULT_CONFIG.logLevel) as VkPayConfig['logLevel'];
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    throw new ConfigError(`VKPAY_LOG_LEVEL is not a log level: ${JSON.stringify(logLevel)}`);
  }
  return {
    env: environment,
    databaseUrl: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    dataDir: env.VKPAY_DATA_DIR || DEFAULT_CONFIG.dataDir,
    pool: {
      max: integer(env, 'VKPAY_DB_POOL_SIZE', DEFAULT_POOL.max, 1, 1000),
      acquireTimeoutMs: integer(
        env,
        'VKPAY_DB_ACQUIRE_TIMEOUT_MS',
        DEFAULT_POOL.acquireTimeoutMs,
        100,
        600_000,
      ),
      idleTimeoutMs: integer(env, 'VKPAY_DB_IDLE_TIMEOUT_MS', DEFAULT_POOL.idleTimeoutMs, 1000, 3_600_000),
    },
    redisUrl: redisUrl(env),
    maxFen: integer(env, 'VKPAY_MAX_FEN', DEFAULT_CONFIG.maxFen, 1, HARD_MAX_FEN),
    maxCustomBytes: integer(env, 'VKPAY_MAX_CUSTOM_BYTES', DEFAULT_CONFIG.maxCustomBytes, 2, 65_536),
    resultCacheTtlMs: integer(
      env,
      'VKPAY_RESULT_CACHE_TTL_MS',
      DEFAULT_CONFIG.resultCacheTtlMs,
      1000,
      3_600_000,
    ),
    orderExpireMs:
      integer(env, 'VKPAY_ORDER_EXPIRE_MINUTES', DEFAULT_CONFIG.orderExpireMs / 60_000, 1, 15 * 24 * 60) *
      60_000,
    logLevel,
    ...overrides,
  };
}
