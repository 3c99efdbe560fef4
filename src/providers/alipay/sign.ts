/**
 * RSA2 (SHA256withRSA) signing strings and signatures of the Alipay v2 gateway, and its clock:
 * Beijing time, computed from the injected clock, never from the machine's time zone.
 */
import { createSign, createVerify, type KeyObject } from 'node:crypto';

export type Params = Readonly<Record<string, string | undefined>>;

function joinSorted(params: Params, skip: (key: string) => boolean, keepEmpty = false): string {
  return Object.keys(params)
    .filter((key) => !skip(key) && params[key] !== undefined && (keepEmpty || params[key] !== ''))
    .sort()
    .map((key) => `${key}=${params[key]}`)
    .join('&');
}

/** Requests (C.3): every parameter but `sign`, empty values left out, `sign_type` kept, raw values. */
export function requestSigningString(params: Params): string {
  return joinSorted(params, (key) => key === 'sign');
}

/**
 * The strings a notification or return_url may have been signed over (C.7). The documented rule
 * drops sign and sign_type and empty values; the official SDKs also accept a string that keeps
 * empty values or sign_type (other notification kinds), so those are tried after it.
 */
export function notifySigningStrings(params: Params): string[] {
  const withoutType = (key: string) => key === 'sign' || key === 'sign_type';
  const withType = (key: string) => key === 'sign';
  const candidates = [
    joinSorted(params, withoutType),
    joinSorted(params, withoutType, true),
    joinSorted(params, withType),
  ];
  return [...new Set(candidates)];
}

export function signRsa2(privateKey: KeyObject, content: string): string {
  return createSign('RSA-SHA256').update(content, 'utf8').sign(privateKey, 'base64');
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Whether `signature` (base64) verifies `content` (text as UTF-8, or exact bytes). */
export function verifyRsa2(publicKey: KeyObject, content: string | Uint8Array, signature: string): boolean {
  if (!BASE64.test(signature)) return false;
  try {
    const verifier = createVerify('RSA-SHA256');
    if (typeof content === 'string') verifier.update(content, 'utf8');
    else verifier.update(content);
    return verifier.verify(publicKey, signature, 'base64');
  } catch {
    // A key of the wrong type or a mangled signature is simply "does not verify".
    return false;
  }
}

const BEIJING_OFFSET_MS = 8 * 60 * 60 * 1000;

/** `yyyy-MM-dd HH:mm:ss` in Beijing time (UTC+8 all year: China has no daylight saving). */
export function beijingTime(epochMs: number): string {
  return new Date(epochMs + BEIJING_OFFSET_MS).toISOString().slice(0, 19).replace('T', ' ');
}

// Refund times (gmt_refund) carry milliseconds; trade times do not.
const BEIJING_PATTERN = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?$/;

/** Alipay's `yyyy-MM-dd HH:mm:ss` (Beijing time) as an instant; null when absent or unreadable. */
export function parseBeijingTime(value: unknown): Date | null {
  if (typeof value !== 'string') return null;
  const match = BEIJING_PATTERN.exec(value);
  if (!match) return null;
  const [, y, mo, d, h, mi, s] = match.map(Number) as number[];
  const fraction = Number((match[7] ?? '').padEnd(3, '0'));
  const ms = Date.UTC(y!, mo! - 1, d!, h!, mi!, s!, fraction) - BEIJING_OFFSET_MS;
  return Number.isNaN(ms) ? null : new Date(ms);
}
