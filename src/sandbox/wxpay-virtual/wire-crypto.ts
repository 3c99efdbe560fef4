/**
 * The emulator's own copy of WeChat's primitives (it shares nothing with the provider it tests):
 * HMAC-SHA256 signatures, the push URL's SHA-1, and the encrypted push envelope.
 */
import { createCipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const hmacSha256Hex = (key: string, message: string): string =>
  createHmac('sha256', Buffer.from(key, 'utf8')).update(Buffer.from(message, 'utf8')).digest('hex');

export const sortedSha1 = (values: string[]): string =>
  createHash('sha1').update(values.slice().sort().join('')).digest('hex');

export function hexEquals(expected: string, given: unknown): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A fresh EncodingAESKey: 32 random bytes as 43 characters of base64. */
export const newEncodingAesKey = (): string => randomBytes(32).toString('base64').slice(0, 43);

/** Encrypt for the safe mode: random(16) | len(4, BE) | msg | appid, PKCS#7 to 32, AES-256-CBC. */
export function sealPush(encodingAesKey: string, message: string, appId: string): string {
  const key = Buffer.from(`${encodingAesKey}=`, 'base64');
  const msg = Buffer.from(message);
  const head = Buffer.alloc(20);
  randomBytes(16).copy(head, 0);
  head.writeUInt32BE(msg.length, 16);
  const plain = Buffer.concat([head, msg, Buffer.from(appId)]);
  const padLength = 32 - (plain.length % 32);
  const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16)).setAutoPadding(false);
  return Buffer.concat([
    cipher.update(Buffer.concat([plain, Buffer.alloc(padLength, padLength)])),
    cipher.final(),
  ]).toString('base64');
}
