/**
 * An independent tiny Alipay signer and request checker for tests, written with node:crypto directly:
 * it must not share code with src/providers/alipay, or both would agree on the same bug.
 */
import { createHash, createSign, createVerify, type KeyObject } from 'node:crypto';

/** Signs the inner object once and embeds those exact bytes, as the gateway does (C.4). */
export function signedResponseBody(
  key: KeyObject,
  responseKey: string,
  inner: string,
  extra: { certSn?: string } = {},
): string {
  const sign = createSign('RSA-SHA256').update(inner, 'utf8').sign(key, 'base64');
  const certSn = extra.certSn ? `,"alipay_cert_sn":"${extra.certSn}"` : '';
  return `{"${responseKey}":${inner}${certSn},"sign":"${sign}"}`;
}

/** Alipay's JSON escapes "/" as "\/": the signature must cover the text as written. */
export const alipayJson = (value: unknown): string => JSON.stringify(value).replace(/\//g, '\\/');

/** Notification signing (C.7): no sign, no sign_type, no empty values, sorted, raw values. */
export function notificationSignature(key: KeyObject, fields: Record<string, string>): string {
  const content = Object.keys(fields)
    .filter((k) => k !== 'sign' && k !== 'sign_type' && fields[k] !== '')
    .sort()
    .map((k) => `${k}=${fields[k]}`)
    .join('&');
  return createSign('RSA-SHA256').update(content, 'utf8').sign(key, 'base64');
}

export function formBody(fields: Record<string, string>): string {
  return Object.entries(fields)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
}

/** The parameters of a gateway.do request: query string and form body merged, as the gateway does. */
export function requestParams(url: string, body: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [k, v] of new URL(url, 'http://gateway').searchParams) params[k] = v;
  for (const [k, v] of new URLSearchParams(body)) params[k] = v;
  return params;
}

/** Checks a request's RSA2 signature with the app public key (C.3: sign_type kept, empties dropped). */
export function requestVerifies(params: Record<string, string>, appPublicKey: KeyObject): boolean {
  const content = Object.keys(params)
    .filter((k) => k !== 'sign' && params[k] !== '')
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
  return createVerify('RSA-SHA256')
    .update(content, 'utf8')
    .verify(appPublicKey, params.sign ?? '', 'base64');
}

/** The SN rule written out independently from the issuer attributes the test CA used. */
export function expectedSn(issuer: Array<[string, string]>, serialHex: string): string {
  const principal = [...issuer]
    .reverse()
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return createHash('md5')
    .update(principal + BigInt(`0x${serialHex}`).toString(10), 'utf8')
    .digest('hex');
}
