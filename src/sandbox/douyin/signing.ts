/**
 * The platform's side of Douyin's signatures, written here apart from the provider so that the
 * emulator checks what clients send against its own reading of the rules: SHA256-RSA2048 over
 * five lines for apps, over three lines for the platform, salted MD5 and SHA-1 for the legacy API.
 */
import { createHash, createSign, createVerify, type KeyObject } from 'node:crypto';

export const appSigningText = (method: string, uri: string, timestamp: string, nonce: string, body: string) =>
  [method, uri, timestamp, nonce, body, ''].join('\n');

export const platformSigningText = (timestamp: string, nonce: string, body: string) =>
  [timestamp, nonce, body, ''].join('\n');

export function signRsa(key: KeyObject, text: string): string {
  return createSign('sha256').update(Buffer.from(text, 'utf8')).sign(key).toString('base64');
}

export function verifyRsa(key: KeyObject, text: string, signature: string): boolean {
  try {
    return createVerify('sha256')
      .update(Buffer.from(text, 'utf8'))
      .verify(key, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

export interface ParsedAuthorization {
  appid: string;
  nonce_str: string;
  timestamp: string;
  key_version: string;
  signature: string;
}

/** Reads `SHA256-RSA2048 appid=..,nonce_str=..,timestamp=..,key_version=..,signature=..`; null when malformed. */
export function parseAuthorization(value: string | undefined): ParsedAuthorization | null {
  const prefix = 'SHA256-RSA2048 ';
  if (!value?.startsWith(prefix)) return null;
  const fields = new Map<string, string>();
  for (const part of value.slice(prefix.length).split(',')) {
    const at = part.indexOf('=');
    if (at <= 0) return null;
    // The base64 signature may itself end in '=': only the first '=' separates name and value.
    fields.set(part.slice(0, at).trim(), part.slice(at + 1));
  }
  const names = ['appid', 'nonce_str', 'timestamp', 'key_version', 'signature'] as const;
  if (names.some((name) => !fields.get(name))) return null;
  return Object.fromEntries(names.map((name) => [name, fields.get(name)])) as unknown as ParsedAuthorization;
}

const LEGACY_UNSIGNED = ['app_id', 'thirdparty_id', 'sign', 'other_settle_params'];

/** The legacy request sign the gateway expects for `params`. */
export function legacySign(params: Record<string, unknown>, salt: string): string {
  const values = Object.entries(params)
    .filter(([key]) => !LEGACY_UNSIGNED.includes(key))
    .map(([, value]) =>
      (value !== null && typeof value === 'object' ? JSON.stringify(value) : String(value ?? '')).trim(),
    )
    .filter((text) => text !== '' && text !== 'null' && text !== 'undefined');
  return createHash('md5')
    .update([...values, salt].sort().join('&'))
    .digest('hex');
}

/** The legacy callback's msg_signature. */
export function legacyMsgSignature(token: string, timestamp: string, nonce: string, msg: string): string {
  return createHash('sha1').update([token, timestamp, nonce, msg].sort().join('')).digest('hex');
}
