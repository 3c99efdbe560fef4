/**
 * Fixed-window rate limits on the shared cache: with Redis, every instance counts in the same
 * window, so a limit holds across the fleet. Limited answers carry the IETF draft's `RateLimit-*`
 * headers; a refusal is 40008 with `Retry-After`. While the cache is unreachable nothing is counted
 * and requests go on.
 */
import type { FastifyReply } from 'fastify';
import type { Cache } from '../../cache/cache.ts';
import type { RateLimit, RouteClass } from '../../config/security.ts';
import { PayError } from '../../core/errors.ts';

/** Where one subject stands in its current window. */
export interface RateLimitState {
  limit: RateLimit;
  /** Requests left in this window after this one (0 when over). */
  remaining: number;
  /** Seconds until the window ends (at least 1). */
  resetSeconds: number;
  exceeded: boolean;
}

/** Counts one request for `subject` in its current window. */
export async function countRequest(
  cache: Cache,
  subject: string,
  limit: RateLimit,
  nowMs: number,
): Promise<RateLimitState> {
  const window = Math.floor(nowMs / limit.windowMs);
  // An unreachable cache counts nothing: the request goes on (signed ones are still refused by the
  // replay check), and counting starts again with the cache.
  const count = await cache.increment(`rl:${subject}:${window}`, limit.windowMs).catch(() => 0);
  return {
    limit,
    remaining: Math.max(limit.max - count, 0),
    resetSeconds: Math.max(1, Math.ceil(((window + 1) * limit.windowMs - nowMs) / 1000)),
    exceeded: count > limit.max,
  };
}

/** RateLimit-Limit, -Remaining, -Reset (seconds) and -Policy ("max;w=seconds"); Retry-After when over. */
export function rateLimitHeaders(state: RateLimitState): Record<string, string> {
  return {
    'ratelimit-limit': String(state.limit.max),
    'ratelimit-remaining': String(state.remaining),
    'ratelimit-reset': String(state.resetSeconds),
    'ratelimit-policy': `${state.limit.max};w=${Math.ceil(state.limit.windowMs / 1000)}`,
    ...(state.exceeded ? { 'retry-after': String(state.resetSeconds) } : {}),
  };
}

export function tooManyRequests(state: RateLimitState): PayError {
  return new PayError(40008, {
    message: `more than ${state.limit.max} requests in ${state.limit.windowMs} ms`,
    details: { retryAfterSeconds: state.resetSeconds },
  });
}

/** Counts one request, shows the budget on the reply, and throws 40008 when it is spent. */
export async function takeRateLimit(
  cache: Cache,
  reply: FastifyReply,
  subject: string,
  limit: RateLimit,
  nowMs: number,
): Promise<void> {
  const state = await countRequest(cache, subject, limit, nowMs);
  reply.headers(rateLimitHeaders(state));
  if (state.exceeded) throw tooManyRequests(state);
}

/**
 * The merchant API's routes by class: creating (a payment, a checkout, closing an order), querying,
 * refunding. Everything else (reviews, webhook endpoints and events) is `other`.
 */
const ROUTE_CLASS_OF: Record<string, RouteClass> = {
  'POST /api/payments': 'create',
  'POST /api/checkouts': 'create',
  'POST /api/payments/:outTradeNo/close': 'create',
  'GET /api/payments/:outTradeNo': 'query',
  'GET /api/refunds/:outRefundNo': 'query',
  'POST /api/refunds': 'refund',
  'POST /api/refunds/:outRefundNo/abnormal': 'refund',
};

export function routeClassOf(method: string, routeUrl: string | undefined): RouteClass {
  return ROUTE_CLASS_OF[`${method} ${routeUrl ?? ''}`] ?? 'other';
}
