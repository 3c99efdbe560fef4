/**
 * Merchant request signatures: HMAC-SHA256 with the app's secret over
 * METHOD \n PATH_WITH_QUERY \n TIMESTAMP \n NONCE \n BODY \n, sent in X-VkPay-* headers. Stale
 * timestamps and reused nonces are refused; nonces live in the cache, so with Redis every
 * instance sees them. While the cache is unreachable signed requests are refused with 40010 (fail
 * closed): a nonce that cannot be recorded could be replayed.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Cache } from '../../cache/cache.ts';
import { PayError } from '../../core/errors.ts';

export const SIGNATURE_HEADERS = {
  appId: 'x-vkpay-appid',
  timestamp: 'x-vkpay-timestamp',
  nonce: 'x-vkpay-nonce',
  signature: 'x-vkpay-signature',
} as const;

export function signingString(
  method: string,
  pathWithQuery: string,
  timestamp: string,
  nonce: string,
  body: string,
): string {
  return `${method.toUpperCase()}\n${pathWithQuery}\n${timestamp}\n${nonce}\n${body}\n`;
}

/** The signature a merchant sends: base64 HMAC-SHA256 of the signing string. */
export function signRequest(
  secret: string,
  method: string,
  pathWithQuery: string,
  timestamp: string,
  nonce: string,
  body: string,
) {
  return createHmac('sha256', secret)
    .update(signingString(method, pathWithQuery, timestamp, nonce, body))
    .digest('base64');
}

export interface SignedRequest {
  method: string;
  pathWithQuery: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface SignatureCheck {
  secretOf(appId: string): string | undefined;
  cache: Cache;
  nowMs: () => number;
  maxAgeMs: number;
}

function header(headers: SignedRequest['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Returns the app id of a correctly signed, fresh, first-seen request; throws 40002 otherwise. */
export async function verifySignedRequest(request: SignedRequest, check: SignatureCheck): Promise<string> {
  const appId = header(request.headers, SIGNATURE_HEADERS.appId);
  const timestamp = header(request.headers, SIGNATURE_HEADERS.timestamp);
  const nonce = header(request.headers, SIGNATURE_HEADERS.nonce);
  const signature = header(request.headers, SIGNATURE_HEADERS.signature);
  if (!appId || !timestamp || !nonce || !signature) {
    throw new PayError(40002, {
      message: 'missing X-VkPay-AppId, X-VkPay-Timestamp, X-VkPay-Nonce or X-VkPay-Signature',
    });
  }
  const secret = check.secretOf(appId);
  if (secret === undefined) throw new PayError(40002, { field: 'appid', message: 'unknown app id' });
  if (!/^\d{10}$/.test(timestamp) || Math.abs(check.nowMs() - Number(timestamp) * 1000) > check.maxAgeMs) {
    throw new PayError(40002, {
      field: 'timestamp',
      message: 'timestamp is not a Unix time in seconds within 5 minutes of ours',
    });
  }
  if (!/^[0-9A-Za-z_-]{8,64}$/.test(nonce)) {
    throw new PayError(40002, {
      field: 'nonce',
      message: 'nonce must be 8 to 64 characters of 0-9 A-Z a-z _ -',
    });
  }
  const expected = Buffer.from(
    signRequest(secret, request.method, request.pathWithQuery, timestamp, nonce, request.body),
  );
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    throw new PayError(40002, { field: 'signature', message: 'signature does not match the request' });
  }
  // Only a verified request may spend a nonce, or anyone could burn a merchant's nonces. Without the
  // cache a replay cannot be told apart: the request is refused as busy (retryable), never let through.
  const fresh = await check.cache
    .setIfAbsent(`nonce:${appId}:${nonce}`, 1, check.maxAgeMs * 2)
    .catch((error: unknown) => {
      throw new PayError(40010, {
        message: 'the replay check is unavailable (cache unreachable); retry with a new nonce',
        cause: error,
      });
    });
  if (!fresh)
    throw new PayError(40002, { field: 'nonce', message: 'nonce already used: this request was replayed' });
  return appId;
}
