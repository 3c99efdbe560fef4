/**
 * Checkout tokens: short-lived, HMAC-SHA256-signed capabilities that let a buyer's browser act on
 * ONE intended order of one merchant (read its public view, pay it with an allowed provider, poll
 * it), and nothing else. The token carries the intended order itself, so issuing one stores nothing
 * and makes no gateway call: the order is created when the buyer picks a provider in the cashier.
 *
 * Format: `v1.<base64url(JSON claims)>.<base64url(HMAC-SHA256(secret, "v1." + claims))>`.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { PayError } from '../core/errors.ts';
import type { CheckoutProviderName as ProviderName } from '../core/validate.ts';

export const TOKEN_VERSION = 'v1';
/** Fifteen minutes, the usual life of a cashier session at the gateways. */
export const DEFAULT_CHECKOUT_TTL_SECONDS = 900;
export const MAX_CHECKOUT_TTL_SECONDS = 2 * 3600;
/** How long after expiry the page may still read the order's outcome (never pay it). */
export const READ_GRACE_SECONDS = 24 * 3600;
/** A token travels in a URL: keep `custom` small enough for every browser and proxy. */
export const MAX_TOKEN_LENGTH = 4096;

/** The intended order a checkout token carries (short keys: it travels in a URL). */
export interface CheckoutClaims {
  /** merchant id */
  m: string;
  /** out_trade_no */
  o: string;
  /** total_fee in fen */
  f: number;
  /** subject */
  s: string;
  /** order type */
  t: string;
  /** providers the buyer may choose from */
  p: ProviderName[];
  /** expires at (unix seconds): the token and the order expire together */
  e: number;
  /** issued at (unix seconds) */
  i: number;
  u?: string;
  /** the payer's WeChat openid, for JSAPI inside the WeChat browser */
  w?: string;
  c?: Record<string, unknown>;
  /** where the merchant wants the buyer after the result page */
  r?: string;
  /** offer Alipay inside the WeChat browser too */
  a?: 1;
}

export interface CheckoutTokenSigner {
  sign(claims: CheckoutClaims): string;
  /** The claims of a token this service signed; 40002 if it was not, 40009 if expired for `use`. */
  verify(token: string, nowMs: number, use: 'read' | 'pay'): CheckoutClaims;
  /** The claims of a token this service signed, whatever its age (an expired link's way back). */
  signedClaims(token: string): CheckoutClaims | undefined;
}

function hmac(secret: Buffer, text: string): Buffer {
  return createHmac('sha256', secret).update(text, 'utf8').digest();
}

export function createCheckoutTokenSigner(secret: string | Buffer): CheckoutTokenSigner {
  const key = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
  if (key.length < 32)
    throw new PayError(40003, { field: 'checkout.secret', message: 'needs 32 bytes or more' });
  return {
    sign(claims) {
      const body = `${TOKEN_VERSION}.${Buffer.from(JSON.stringify(claims), 'utf8').toString('base64url')}`;
      const token = `${body}.${hmac(key, body).toString('base64url')}`;
      if (token.length > MAX_TOKEN_LENGTH) {
        throw new PayError(40001, { field: 'custom', message: 'custom is too large for a checkout link' });
      }
      return token;
    },
    verify(token, nowMs, use) {
      const claims = decode(token);
      const nowSeconds = Math.floor(nowMs / 1000);
      const limit = use === 'pay' ? claims.e : claims.e + READ_GRACE_SECONDS;
      if (nowSeconds >= limit) {
        throw new PayError(40009, { field: 'token', message: 'checkout token has expired' });
      }
      return claims;
    },
    signedClaims(token) {
      try {
        return decode(token);
      } catch {
        return undefined;
      }
    },
  };

  function decode(token: string): CheckoutClaims {
    const invalid = () => new PayError(40002, { field: 'token', message: 'checkout token is not valid' });
    if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) throw invalid();
    const parts = token.split('.');
    if (parts.length !== 3 || parts[0] !== TOKEN_VERSION) throw invalid();
    const given = Buffer.from(parts[2]!, 'base64url');
    const expected = hmac(key, `${parts[0]}.${parts[1]}`);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid();
    try {
      return JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as CheckoutClaims;
    } catch {
      throw invalid();
    }
  }
}

export interface CheckoutSettings {
  /** HMAC key shared by every instance; without one, each process makes its own random key. */
  secret?: string;
  ttlSeconds?: number;
}

export interface CheckoutRuntime {
  signer: CheckoutTokenSigner;
  ttlSeconds: number;
}

/**
 * One checkout runtime per VkPay instance, so the API that issues tokens and the cashier that
 * verifies them share a key without a new field on the library object.
 */
const runtimes = new WeakMap<object, CheckoutRuntime>();

export function configureCheckout(owner: object, settings: CheckoutSettings = {}): CheckoutRuntime {
  const runtime: CheckoutRuntime = {
    signer: createCheckoutTokenSigner(settings.secret ?? randomBytes(32)),
    ttlSeconds: Math.min(settings.ttlSeconds ?? DEFAULT_CHECKOUT_TTL_SECONDS, MAX_CHECKOUT_TTL_SECONDS),
  };
  runtimes.set(owner, runtime);
  return runtime;
}

/** The owner's runtime; unconfigured, the key is VKPAY_CHECKOUT_SECRET or a random one per process. */
export function checkoutRuntime(owner: object): CheckoutRuntime {
  const secret = process.env.VKPAY_CHECKOUT_SECRET;
  return runtimes.get(owner) ?? configureCheckout(owner, secret ? { secret } : {});
}
