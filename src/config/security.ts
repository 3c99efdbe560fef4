/** The service's security settings: the seed's production configuration, with safe defaults. */
import { ConfigError } from './config.ts';

/** A fixed window: at most `max` requests in each `windowMs`. */
export interface RateLimit {
  windowMs: number;
  max: number;
}

/** The merchant API's routes by what they cost the service and the gateway; each has its own budget. */
export type RouteClass = 'create' | 'query' | 'refund' | 'other';
export const ROUTE_CLASSES: readonly RouteClass[] = ['create', 'query', 'refund', 'other'];
export type AppRateLimits = Record<RouteClass, RateLimit>;

/** A merchant backend allowed to call the API, and the VK-Pay merchant it acts for. */
export interface ApiApp {
  appId: string;
  merchantId: string;
  /** Other merchants this app may act for, chosen per request with ?merchant=ID. */
  merchants?: string[];
  /** HMAC-SHA256 key of request signatures (at least 32 characters). */
  secret: string;
  /** Client IPs or CIDR ranges this app may call from; empty means any. */
  ipAllowlist?: string[];
  /** This app's own budgets, per route class, over `SecurityConfig.appRateLimits`. */
  rateLimits?: Partial<AppRateLimits>;
  /** Web origins (`https://shop.example.com`) whose pages may call the cashier's status and pay. */
  corsOrigins?: string[];
  /** Who the buyer pays, shown on the cashier of this app's merchant. */
  payee?: Payee;
}

export interface Payee {
  name: string;
  /** An https image URL (http outside production). */
  logoUrl?: string;
}

/** `apps[i].corsOrigins` from the file: each exactly an origin, https in production. */
export function corsOriginsOf(value: unknown, field: string, production: boolean): string[] {
  if (!Array.isArray(value)) throw new ConfigError(`${field} must be a list of origins`);
  return value.map((item, i) => {
    let url: URL | null = null;
    try {
      url = typeof item === 'string' ? new URL(item) : null;
    } catch {
      url = null;
    }
    if (!url || url.origin !== item || !/^https?:$/.test(url.protocol))
      throw new ConfigError(
        `${field}[${i}] must be an origin: scheme, host and port only, e.g. https://shop.example.com`,
      );
    if (production && url.protocol !== 'https:')
      throw new ConfigError(`${field}[${i}] must be https:// in production`);
    return item;
  });
}

/** `apps[i].payee` from the file: a name of 1 to 64 characters, an optional logo URL. */
export function payeeOf(value: unknown, field: string, production: boolean): Payee {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new ConfigError(`${field} must be an object { name, logoUrl? }`);
  const { name, logoUrl } = value as { name?: unknown; logoUrl?: unknown };
  if (typeof name !== 'string' || name.trim().length === 0 || name.length > 64)
    throw new ConfigError(`${field}.name must be a name of 1 to 64 characters`);
  if (logoUrl === undefined) return { name };
  const scheme = production ? /^https:\/\/[^\s]+$/ : /^https?:\/\/[^\s]+$/;
  if (typeof logoUrl !== 'string' || logoUrl.length > 512 || !scheme.test(logoUrl))
    throw new ConfigError(
      `${field}.logoUrl must be an ${production ? 'https' : 'http(s)'} URL of at most 512 characters`,
    );
  return { name, logoUrl };
}

export interface SecurityConfig {
  /** Refuse unsigned merchant requests (the seed: requireSignature). */
  requireSignature: boolean;
  /** Refuse plain HTTP unless a trusted proxy says the client used https. */
  requireHttps: boolean;
  /** Proxies (IPs or CIDRs) whose X-Forwarded-For and X-Forwarded-Proto are believed. */
  trustedProxies: string[];
  /** Whether the rate limits below are enforced (development turns them off). */
  rateLimitsEnabled: boolean;
  /**
   * Per client IP: the cashier's routes, and merchant API requests that fail authentication.
   * Requests of a verified app count only against the app's budgets.
   */
  ipRateLimit: RateLimit;
  /** Per signed merchant app and route class, unless the app sets its own. */
  appRateLimits: AppRateLimits;
  /** Who may reach the admin routes. */
  adminAllowlist: string[];
  requestTimeoutMs: number;
  bodyLimitBytes: number;
  signatureMaxAgeMs: number;
}

const perMinute = (max: number): RateLimit => ({ windowMs: 60_000, max });

/**
 * A busy merchant backend: 50 new payments a second, queries four times as often (status checks
 * while buyers wait), refunds a fifth of the payments' rate, and the rest (reviews, webhook
 * endpoints and events) at operator pace. docs/operations.md explains the choice.
 */
export const DEFAULT_APP_RATE_LIMITS: AppRateLimits = {
  create: perMinute(3000),
  query: perMinute(12_000),
  refund: perMinute(600),
  other: perMinute(600),
};

export const DEFAULT_SECURITY: SecurityConfig = {
  requireSignature: true,
  requireHttps: false,
  trustedProxies: [],
  rateLimitsEnabled: true,
  // The seed's limit: 100 requests a minute per client.
  ipRateLimit: perMinute(100),
  appRateLimits: DEFAULT_APP_RATE_LIMITS,
  adminAllowlist: ['127.0.0.1', '::1'],
  requestTimeoutMs: 10_000,
  bodyLimitBytes: 64 * 1024,
  signatureMaxAgeMs: 5 * 60_000,
};

function rateLimitOf(value: unknown, field: string): RateLimit {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new ConfigError(`${field} must be an object { max, windowMs }`);
  const limit = value as { max?: unknown; windowMs?: unknown };
  const max = Number(limit.max);
  const windowMs = limit.windowMs === undefined ? 60_000 : Number(limit.windowMs);
  if (!Number.isInteger(max) || max < 1) throw new ConfigError(`${field}.max must be a positive integer`);
  if (!Number.isInteger(windowMs) || windowMs < 1000)
    throw new ConfigError(`${field}.windowMs must be an integer of at least 1000 (ms)`);
  return { windowMs, max };
}

/** Budgets per route class from the file (`{ "create": { "max": 3000 } }`), each class optional. */
export function appRateLimitsOf(value: unknown, field: string): Partial<AppRateLimits> {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new ConfigError(
      `${field} must map route classes (${ROUTE_CLASSES.join(', ')}) to { max, windowMs }`,
    );
  const limits: Partial<AppRateLimits> = {};
  for (const [name, limit] of Object.entries(value)) {
    if (!ROUTE_CLASSES.includes(name as RouteClass))
      throw new ConfigError(`${field}.${name} is not a route class (${ROUTE_CLASSES.join(', ')})`);
    limits[name as RouteClass] = rateLimitOf(limit, `${field}.${name}`);
  }
  return limits;
}

/** The rate-limit settings of `security` in the file, over the defaults and the profile's switch. */
export function rateLimitSettingsOf(
  file: Record<string, unknown>,
  enabledByProfile: boolean,
): Pick<SecurityConfig, 'rateLimitsEnabled' | 'ipRateLimit' | 'appRateLimits'> {
  if (file.rateLimit !== undefined)
    throw new ConfigError(
      'security.rateLimit is replaced by security.appRateLimits (per route class: create, query, refund, other) and security.ipRateLimit (per client IP)',
    );
  if (file.rateLimitsEnabled !== undefined && typeof file.rateLimitsEnabled !== 'boolean')
    throw new ConfigError('security.rateLimitsEnabled must be true or false');
  return {
    rateLimitsEnabled: (file.rateLimitsEnabled as boolean | undefined) ?? enabledByProfile,
    ipRateLimit:
      file.ipRateLimit === undefined
        ? DEFAULT_SECURITY.ipRateLimit
        : rateLimitOf(file.ipRateLimit, 'security.ipRateLimit'),
    appRateLimits: {
      ...DEFAULT_APP_RATE_LIMITS,
      ...(file.appRateLimits === undefined
        ? {}
        : appRateLimitsOf(file.appRateLimits, 'security.appRateLimits')),
    },
  };
}
