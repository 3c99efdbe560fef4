/**
 * An independent tiny WeChat Pay signer for tests, written with node:crypto directly (it must not
 * share code with src/providers/wxpay/sign.ts, or both would agree on the same bug).
 */
import { createCipheriv, createSign, createVerify, type KeyObject, randomBytes } from 'node:crypto';

export interface SigningKey {
  serial: string;
  privateKey: KeyObject;
}

export function signWechatpay(key: KeyObject, timestamp: string, nonce: string, body: string): string {
  return createSign('RSA-SHA256').update(`${timestamp}\n${nonce}\n${body}\n`, 'utf8').sign(key, 'base64');
}

export interface SignOptions {
  timestamp: number;
  /** Overrides the computed signature (e.g. a WECHATPAY/SIGNTEST/ probe). */
  signature?: string;
  /** The serial to announce, when it should differ from the key's. */
  serial?: string;
}

export function wechatpayHeaders(
  key: SigningKey,
  body: string,
  options: SignOptions,
): Record<string, string> {
  const nonce = randomBytes(16).toString('hex');
  const timestamp = String(options.timestamp);
  return {
    'Wechatpay-Timestamp': timestamp,
    'Wechatpay-Nonce': nonce,
    'Wechatpay-Serial': options.serial ?? key.serial,
    'Wechatpay-Signature': options.signature ?? signWechatpay(key.privateKey, timestamp, nonce, body),
    'Wechatpay-Signature-Type': 'WECHATPAY2-SHA256-RSA2048',
  };
}

/** base64(AES-256-GCM ciphertext || tag). */
export function sealResource(plaintext: string, apiV3Key: string, nonce: string, aad: string): string {
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(apiV3Key), Buffer.from(nonce));
  cipher.setAAD(Buffer.from(aad));
  return Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]).toString(
    'base64',
  );
}

export interface ParsedAuthorization {
  mchid: string;
  serial_no: string;
  timestamp: string;
  nonce_str: string;
  signature: string;
}

/** Parses `WECHATPAY2-SHA256-RSA2048 k="v",...` in any parameter order. */
export function parseAuthorization(header: string | undefined): ParsedAuthorization | null {
  const match = /^WECHATPAY2-SHA256-RSA2048 (.+)$/.exec(header ?? '');
  if (!match) return null;
  const params: Record<string, string> = {};
  for (const part of match[1]!.matchAll(/(\w+)="([^"]*)"/g)) params[part[1]!] = part[2]!;
  const { mchid, serial_no, timestamp, nonce_str, signature } = params;
  if (!mchid || !serial_no || !timestamp || !nonce_str || !signature) return null;
  return { mchid, serial_no, timestamp, nonce_str, signature };
}

/** Whether a request's Authorization verifies against the merchant public key. */
export function verifyAuthorization(
  request: {
    method: string;
    url: string;
    headers: Record<string, string | string[] | undefined>;
    body: string;
  },
  merchantPublicKey: KeyObject,
): ParsedAuthorization | null {
  const auth = parseAuthorization(request.headers.authorization as string | undefined);
  if (!auth) return null;
  const message = `${request.method}\n${request.url}\n${auth.timestamp}\n${auth.nonce_str}\n${request.body}\n`;
  const ok = createVerify('RSA-SHA256')
    .update(message, 'utf8')
    .verify(merchantPublicKey, auth.signature, 'base64');
  return ok ? auth : null;
}
