/**
 * Fixed-window rate limits on the shared cache: with Redis, every instance counts in the same
 * window, so a limit holds across the fleet.
 */
import type { Cache } from '../../cache/cache.ts';
import { PayError } from '../../core/errors.ts';

export interface RateLimit {
  windowMs: number;
  max: number;
}

/** Counts one request for `subject`; throws 40008 with the seconds to wait when over the limit. */
export async function takeRateLimit(
  cache: Cache,
  subject: string,
  limit: RateLimit,
  nowMs: number,
): Promise<void> {
  const window = Math.floor(nowMs / limit.windowMs);
  const count = await cache.increment(`rl:${subject}:${window}`, limit.windowMs);
  if (count > limit.max) {
    const retryAfterSeconds = Math.max(1, Math.ceil(((window + 1) * limit.windowMs - nowMs) / 1000));
    throw new PayError(40008, {
      message: `more than ${limit.max} requests in ${limit.windowMs} ms`,
      details: { retryAfterSeconds },
    });
  }
}
