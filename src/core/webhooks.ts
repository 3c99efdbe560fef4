/**
 * Merchant notifications, the pure part: which events there are, when a failed delivery is tried
 * again, and the Standard Webhooks signature (HMAC-SHA256 over `id.timestamp.body`) that any
 * receiver can check with the Standard Webhooks library of its language.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const WEBHOOK_EVENT_TYPES = [
  'payment.succeeded',
  'payment.closed',
  'refund.succeeded',
  'refund.closed',
  'refund.refused',
  'refund.abnormal',
  'refund.reversed',
  'review.opened',
  'review.resolved',
  'transfer.created',
  'transfer.approved',
  'transfer.rejected',
  'transfer.processing',
  'transfer.wait_user_confirm',
  'transfer.succeeded',
  'transfer.failed',
  'transfer.cancelled',
  'profit_sharing.processing',
  'profit_sharing.finished',
  'profit_sharing.failed',
  'profit_sharing.line_closed',
  'profit_sharing.unfrozen',
  'profit_sharing.returned',
  'profit_sharing.return_failed',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** Sent only on request, to one endpoint, to check it receives and verifies. */
export const PING_EVENT = 'webhook.ping';

/** The version of the event body; a change that breaks receivers gets a new one. */
export const WEBHOOK_PAYLOAD_VERSION = 1;

export function isWebhookEventType(value: unknown): value is WebhookEventType {
  return typeof value === 'string' && (WEBHOOK_EVENT_TYPES as readonly string[]).includes(value);
}

/**
 * Waits before each retry, modelled on WeChat Pay's own notification schedule: 15 retries over
 * about 24 hours (16 attempts in all). Scaled by a time factor in tests.
 */
export const RETRY_SCHEDULE_MS: readonly number[] = [
  15_000, 15_000, 30_000, 180_000, 600_000, 1_200_000, 1_800_000, 1_800_000, 1_800_000, 3_600_000, 10_800_000,
  10_800_000, 10_800_000, 21_600_000, 21_600_000,
];

/**
 * The wait before the retry after the `failedAttempts`-th failure (1 = the first attempt failed), or
 * null when the schedule is exhausted. `random` in [0, 1) spreads retries by ±10 % so that an
 * endpoint coming back is not hit by every delivery at the same instant.
 */
export function retryDelayMs(failedAttempts: number, timeFactor: number, random: number): number | null {
  const base = RETRY_SCHEDULE_MS[failedAttempts - 1];
  if (base === undefined) return null;
  return Math.max(1, Math.round(base * timeFactor * (0.9 + 0.2 * random)));
}

/** An endpoint failing this many attempts in a row is paused, not hammered. */
export const ENDPOINT_PAUSE_AFTER_FAILURES = 5;

/** How long a failing endpoint rests: 30 s, doubling with each further failure, at most an hour. */
export function endpointPauseMs(consecutiveFailures: number, timeFactor: number): number {
  const beyond = Math.max(consecutiveFailures - ENDPOINT_PAUSE_AFTER_FAILURES, 0);
  return Math.max(1, Math.round(Math.min(30_000 * 2 ** Math.min(beyond, 10), 3_600_000) * timeFactor));
}

const SECRET_PREFIX = 'whsec_';

/** The key bytes of a `whsec_<base64>` secret (24 to 64 bytes), or null if it is not one. */
export function webhookSecretKey(secret: string): Buffer | null {
  if (!secret.startsWith(SECRET_PREFIX)) return null;
  const encoded = secret.slice(SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return null;
  const key = Buffer.from(encoded, 'base64');
  return key.length >= 24 && key.length <= 64 ? key : null;
}

/** A secret in the Standard Webhooks format, from random bytes the caller supplies. */
export function formatWebhookSecret(randomKey: Buffer): string {
  return `${SECRET_PREFIX}${randomKey.toString('base64')}`;
}

/** `v1,<base64 HMAC-SHA256 of id.timestamp.body>` for each secret, space-separated (rotation signs with both). */
export function signWebhook(secrets: readonly string[], id: string, timestampSeconds: number, body: string) {
  return secrets
    .map((secret) => {
      const key = webhookSecretKey(secret);
      if (!key) throw new Error('a webhook secret must be whsec_ followed by base64 of 24 to 64 bytes');
      return `v1,${createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64')}`;
    })
    .join(' ');
}

/**
 * Checks a delivery as a receiver does: one of the signatures matches the secret, and the timestamp
 * is within `toleranceSeconds` of now. The built-in development receiver uses the independent
 * `standardwebhooks` package instead; this is for `vk-pay listen` and for merchants in Node.
 */
export function verifyWebhook(
  secret: string,
  headers: { id: string; timestamp: string; signature: string },
  body: string,
  nowSeconds: number,
  toleranceSeconds = 300,
): boolean {
  const timestamp = Number(headers.timestamp);
  if (!Number.isInteger(timestamp) || Math.abs(nowSeconds - timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(signWebhook([secret], headers.id, timestamp, body).slice(3), 'base64');
  return headers.signature.split(' ').some((part) => {
    const [version, value] = part.split(',', 2);
    if (version !== 'v1' || !value) return false;
    const given = Buffer.from(value, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
