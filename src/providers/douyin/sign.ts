/**
 * Douyin's signatures. General trade system: SHA256-RSA2048 with the app's key over a five-line
 * string (method, URI, timestamp, nonce, body) for what we send, and the platform's key over a
 * three-line string (timestamp, nonce, body) for what it sends. Legacy guaranteed payment: a salted
 * MD5 over sorted values for requests, and a SHA-1 over sorted token, timestamp, nonce, msg for
 * callbacks.
 */
import { createHash, createSign, createVerify, type KeyObject, timingSafeEqual } from 'node:crypto';

/** The string the app signs: every line ends with \n, the body exactly as sent. */
export function requestSigningString(
  method: string,
  uri: string,
  timestamp: string,
  nonce: string,
  body: string,
): string {
  return `${method}\n${uri}\n${timestamp}\n${nonce}\n${body}\n`;
}

/** The string the platform signs in callbacks and answers. */
export function platformSigningString(timestamp: string, nonce: string, body: string): string {
  return `${timestamp}\n${nonce}\n${body}\n`;
}

export function rsaSign(privateKey: KeyObject, text: string): string {
  return createSign('RSA-SHA256').update(text, 'utf8').sign(privateKey, 'base64');
}

export function rsaVerify(publicKey: KeyObject, text: string, signature: string): boolean {
  try {
    return createVerify('RSA-SHA256').update(text, 'utf8').verify(publicKey, signature, 'base64');
  } catch {
    return false;
  }
}

export interface AuthorizationParts {
  appId: string;
  nonce: string;
  timestamp: string;
  keyVersion: string;
  signature: string;
}

/** `SHA256-RSA2048 appid=..,nonce_str=..,timestamp=..,key_version=..,signature=..`, in this order. */
export function formatAuthorization(parts: AuthorizationParts): string {
  return `SHA256-RSA2048 appid=${parts.appId},nonce_str=${parts.nonce},timestamp=${parts.timestamp},key_version=${parts.keyVersion},signature=${parts.signature}`;
}

/** Signs `body` as a POST to `uri` and returns the Byte-Authorization / byteAuthorization value. */
export function signedAuthorization(
  signer: { appId: string; keyVersion: string; privateKey: KeyObject },
  uri: string,
  body: string,
  timestamp: string,
  nonce: string,
): string {
  const signature = rsaSign(signer.privateKey, requestSigningString('POST', uri, timestamp, nonce, body));
  return formatAuthorization({
    appId: signer.appId,
    nonce,
    timestamp,
    keyVersion: signer.keyVersion,
    signature,
  });
}

/** Parameters left out of the legacy request sign. */
const ECPAY_UNSIGNED = new Set(['app_id', 'thirdparty_id', 'sign', 'other_settle_params']);

/** Legacy request sign: the trimmed non-empty values but the unsigned ones, plus the salt, sorted, joined by &, MD5 hex. */
export function ecpaySign(params: Record<string, unknown>, salt: string): string {
  const values: string[] = [];
  for (const [key, value] of Object.entries(params)) {
    if (ECPAY_UNSIGNED.has(key) || value === undefined || value === null) continue;
    const text = (typeof value === 'object' ? JSON.stringify(value) : String(value)).trim();
    if (text === '' || text === 'null') continue;
    values.push(text);
  }
  values.push(salt);
  values.sort();
  return createHash('md5').update(values.join('&'), 'utf8').digest('hex');
}

/** Legacy callback signature: SHA-1 hex of token, timestamp, nonce and msg sorted as strings and joined. */
export function ecpayMsgSignature(token: string, timestamp: string, nonce: string, msg: string): string {
  return createHash('sha1').update([token, timestamp, nonce, msg].sort().join(''), 'utf8').digest('hex');
}

export function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}
