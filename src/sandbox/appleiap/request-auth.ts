/**
 * The App Store Server API's request authentication: `Authorization: Bearer <JWT>` signed ES256
 * with the app's in-app purchase key. Header `alg` ES256, `kid` the key id, `typ` JWT; claims `iss`
 * (issuer id), `iat`, `exp` (later than now and at most 60 minutes after iat), `aud`
 * `appstoreconnect-v1` and `bid` (the bundle id). Anything else is a 401, as Apple answers it.
 */
import { verify } from 'node:crypto';
import type { AppRecord } from './apps.ts';

/** Clock skew tolerated on `iat` in the future. */
const SKEW_SECONDS = 60;
const MAX_LIFETIME_SECONDS = 3600;

export type AuthResult = { ok: true; app: AppRecord } | { ok: false; reason: string };

function decodeSegment(segment: string | undefined): Record<string, unknown> | null {
  if (!segment || !/^[A-Za-z0-9_-]+$/.test(segment)) return null;
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

export function authenticate(
  authorization: string | string[] | undefined,
  apps: ReadonlyMap<string, AppRecord>,
  nowMs: number,
): AuthResult {
  if (typeof authorization !== 'string' || !authorization.startsWith('Bearer '))
    return { ok: false, reason: 'no bearer token' };
  const token = authorization.slice('Bearer '.length).trim();
  const parts = token.split('.');
  if (parts.length !== 3) return { ok: false, reason: 'not a compact JWT' };
  const header = decodeSegment(parts[0]);
  const claims = decodeSegment(parts[1]);
  if (!header || !claims) return { ok: false, reason: 'unreadable JWT' };
  if (header.alg !== 'ES256') return { ok: false, reason: 'alg must be ES256' };
  if (header.typ !== undefined && header.typ !== 'JWT') return { ok: false, reason: 'typ must be JWT' };
  const app = typeof claims.bid === 'string' ? apps.get(claims.bid) : undefined;
  if (!app) return { ok: false, reason: 'unknown bid' };
  if (header.kid !== app.keyId) return { ok: false, reason: 'kid is not the app key' };
  if (claims.iss !== app.issuerId) return { ok: false, reason: 'iss is not the issuer id' };
  if (claims.aud !== 'appstoreconnect-v1') return { ok: false, reason: 'aud must be appstoreconnect-v1' };
  const now = Math.floor(nowMs / 1000);
  const { iat, exp } = claims;
  if (typeof iat !== 'number' || typeof exp !== 'number')
    return { ok: false, reason: 'iat and exp required' };
  if (iat > now + SKEW_SECONDS) return { ok: false, reason: 'iat is in the future' };
  if (exp <= now) return { ok: false, reason: 'expired' };
  if (exp - iat > MAX_LIFETIME_SECONDS) return { ok: false, reason: 'exp is more than 60 minutes after iat' };
  const signature = Buffer.from(parts[2] ?? '', 'base64url');
  let signed = false;
  try {
    signed = verify(
      'sha256',
      Buffer.from(`${parts[0]}.${parts[1]}`),
      { key: app.publicKey, dsaEncoding: 'ieee-p1363' },
      signature,
    );
  } catch {
    // A signature of the wrong length for P-256 is simply not a valid one.
  }
  if (!signed) return { ok: false, reason: 'signature does not verify' };
  return { ok: true, app };
}
