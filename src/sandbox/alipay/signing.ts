/**
 * Alipay's RSA2 (SHA256withRSA) signing strings and signatures. Requests and notifications use
 * different strings (C.3 vs C.7 of protocols.md): requests keep `sign_type`, notifications drop it.
 */
import { createSign, createVerify, type KeyObject } from 'node:crypto';

export type WireParams = Record<string, string>;

function joinSorted(params: WireParams, excluded: readonly string[]): string {
  return Object.keys(params)
    .filter((key) => !excluded.includes(key) && params[key] !== undefined && params[key] !== '')
    .sort()
    .map((key) => `${key}=${params[key]}`)
    .join('&');
}

/** The string the gateway verifies a request against: sorted raw values, empty ones and `sign` left out. */
export function requestSigningString(params: WireParams): string {
  return joinSorted(params, ['sign']);
}

/** The string a merchant verifies a notification or a return_url redirect against. */
export function notifySigningString(params: WireParams): string {
  return joinSorted(params, ['sign', 'sign_type']);
}

export function signRsa2(content: string, privateKey: KeyObject): string {
  return createSign('RSA-SHA256').update(content, 'utf8').sign(privateKey, 'base64');
}

/** False, never an exception, for malformed signatures: a bad signature is the caller's answer. */
export function verifyRsa2(content: string, signature: string, publicKey: KeyObject): boolean {
  try {
    return createVerify('RSA-SHA256').update(content, 'utf8').verify(publicKey, signature, 'base64');
  } catch {
    return false;
  }
}

/** JSON as Alipay writes it: `/` escaped as `\/` (qr_code URLs show it), everything else as JSON.stringify. */
export function alipayJson(value: unknown): string {
  return JSON.stringify(value).replace(/\//g, '\\/');
}

export interface ResponseSigner {
  privateKey: KeyObject;
  /** Present in certificate mode: the SN of the Alipay public-key certificate. */
  alipayCertSn?: string | undefined;
}

/**
 * Serialises the response object once and signs exactly those bytes, then embeds them verbatim,
 * so that what the client cuts out of the body is byte for byte what was signed.
 */
export function signedResponseBody(
  responseKey: string,
  response: Record<string, unknown>,
  signer: ResponseSigner | undefined,
  tamper?: { badSignature?: boolean; certSn?: string },
): string {
  const content = alipayJson(response);
  if (!signer) return `{"${responseKey}":${content}}`;
  let sign = signRsa2(content, signer.privateKey);
  if (tamper?.badSignature) sign = corruptSignature(sign);
  const certSn = tamper?.certSn ?? signer.alipayCertSn;
  const certPart = certSn === undefined ? '' : `,"alipay_cert_sn":"${certSn}"`;
  return `{"${responseKey}":${content}${certPart},"sign":"${sign}"}`;
}

/** Flips bits in the middle of a signature: same length and alphabet, so only verification notices. */
export function corruptSignature(sign: string): string {
  const bytes = Buffer.from(sign, 'base64');
  const middle = Math.floor(bytes.length / 2);
  bytes[middle] = (bytes[middle] ?? 0) ^ 0xff;
  return bytes.toString('base64');
}
