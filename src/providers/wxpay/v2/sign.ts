/**
 * The APIv2 signature: every non-empty field but `sign`, sorted by name (ASCII), joined as
 * k=v&k=v, then `&key=<API key>`; MD5 or HMAC-SHA256 (keyed with the API key) in uppercase hex.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const V2_SIGN_TYPES = ['MD5', 'HMAC-SHA256'] as const;
export type V2SignType = (typeof V2_SIGN_TYPES)[number];

/** The string that is hashed: stringSignTemp in WeChat's words. */
export function signingString(
  fields: Record<string, string | number | undefined | null>,
  apiKey: string,
): string {
  const pairs = Object.keys(fields)
    .filter((name) => name !== 'sign')
    .filter((name) => {
      const value = fields[name];
      return value !== undefined && value !== null && String(value) !== '';
    })
    .sort()
    .map((name) => `${name}=${String(fields[name])}`);
  return `${pairs.join('&')}&key=${apiKey}`;
}

export function signV2(
  fields: Record<string, string | number | undefined | null>,
  apiKey: string,
  signType: V2SignType,
): string {
  const message = signingString(fields, apiKey);
  const digest =
    signType === 'HMAC-SHA256'
      ? createHmac('sha256', apiKey).update(message, 'utf8').digest('hex')
      : createHash('md5').update(message, 'utf8').digest('hex');
  return digest.toUpperCase();
}

/** Whether `fields.sign` is the signature of the other fields with this key and type. */
export function verifyV2(fields: Record<string, string>, apiKey: string, signType: V2SignType): boolean {
  const given = fields.sign;
  if (typeof given !== 'string' || given.length === 0) return false;
  const expected = Buffer.from(signV2(fields, apiKey, signType), 'utf8');
  const actual = Buffer.from(given.toUpperCase(), 'utf8');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** The sign type a message names, or null when it names one WeChat does not define. */
export function signTypeOf(value: string | undefined, fallback: V2SignType = 'MD5'): V2SignType | null {
  if (value === undefined || value === '') return fallback;
  return (V2_SIGN_TYPES as readonly string[]).includes(value) ? (value as V2SignType) : null;
}

/** A 32-character nonce_str. */
export function nonceStr(): string {
  return randomBytes(16).toString('hex');
}
