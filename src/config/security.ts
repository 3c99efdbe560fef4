/** The service's security settings: the seed's production configuration, with safe defaults. */
import type { RateLimit } from '../http/plugins/rate-limit.ts';

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
  rateLimit?: RateLimit;
}

export interface SecurityConfig {
  /** Refuse unsigned merchant requests (the seed: requireSignature). */
  requireSignature: boolean;
  /** Refuse plain HTTP unless a trusted proxy says the client used https. */
  requireHttps: boolean;
  /** Proxies (IPs or CIDRs) whose X-Forwarded-For and X-Forwarded-Proto are believed. */
  trustedProxies: string[];
  /** Per app, unless the app sets its own. */
  rateLimit: RateLimit;
  /** Per client IP, over all apps. */
  ipRateLimit: RateLimit;
  /** Who may reach the admin routes. */
  adminAllowlist: string[];
  requestTimeoutMs: number;
  bodyLimitBytes: number;
  signatureMaxAgeMs: number;
}

export const DEFAULT_SECURITY: SecurityConfig = {
  requireSignature: true,
  requireHttps: false,
  trustedProxies: [],
  rateLimit: { windowMs: 60_000, max: 100 },
  ipRateLimit: { windowMs: 60_000, max: 300 },
  adminAllowlist: ['127.0.0.1', '::1'],
  requestTimeoutMs: 10_000,
  bodyLimitBytes: 64 * 1024,
  signatureMaxAgeMs: 5 * 60_000,
};
