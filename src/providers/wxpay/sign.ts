/**
 * The APIv3 signing strings and SHA256withRSA signatures: the request Authorization header, the
 * response/notification verification string, and the client-side paySign (JSAPI, mini program, APP).
 * Every line of every string ends with "\n", the last one included.
 */
import { createSign, createVerify, type KeyObject, randomInt } from 'node:crypto';

export const AUTH_SCHEMA = 'WECHATPAY2-SHA256-RSA2048';

const joinLines = (...lines: string[]): string => lines.map((line) => `${line}\n`).join('');

/** METHOD\nPATH?QUERY\nTIMESTAMP\nNONCE\nBODY\n; BODY is '' for GET. */
export function requestMessage(
  method: string,
  canonicalUrl: string,
  timestamp: string,
  nonce: string,
  body: string,
): string {
  return joinLines(method.toUpperCase(), canonicalUrl, timestamp, nonce, body);
}

/** TIMESTAMP\nNONCE\nBODY\n over the raw response or notification bytes. */
export function responseMessage(timestamp: string, nonce: string, rawBody: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${timestamp}\n${nonce}\n`), rawBody, Buffer.from('\n')]);
}

/** appId\ntimeStamp\nnonceStr\npackage\n (JSAPI and mini program). */
export function jsapiPayMessage(appId: string, timeStamp: string, nonceStr: string, pkg: string): string {
  return joinLines(appId, timeStamp, nonceStr, pkg);
}

/** appid\ntimestamp\nnoncestr\nprepayid\n: the fourth line is the prepayid, not "Sign=WXPay". */
export function appPayMessage(appId: string, timestamp: string, nonceStr: string, prepayId: string): string {
  return joinLines(appId, timestamp, nonceStr, prepayId);
}

export function rsaSign(message: string | Buffer, privateKey: KeyObject): string {
  return createSign('sha256WithRSAEncryption').update(message).sign(privateKey, 'base64');
}

export function rsaVerify(message: string | Buffer, signature: string, publicKey: KeyObject): boolean {
  try {
    return createVerify('sha256WithRSAEncryption').update(message).verify(publicKey, signature, 'base64');
  } catch {
    // A signature that is not even decodable is simply a failed verification.
    return false;
  }
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** A 32-character [0-9A-Za-z] nonce, uniform over the alphabet. */
export function createNonce(length = 32): string {
  let nonce = '';
  for (let i = 0; i < length; i += 1) nonce += BASE62[randomInt(BASE62.length)];
  return nonce;
}

export interface AuthorizationInput {
  mchId: string;
  serialNo: string;
  privateKey: KeyObject;
  method: string;
  canonicalUrl: string;
  body: string;
  timestamp: string;
  nonce: string;
}

/** The Authorization header value for one request. */
export function authorizationHeader(input: AuthorizationInput): string {
  const message = requestMessage(input.method, input.canonicalUrl, input.timestamp, input.nonce, input.body);
  const signature = rsaSign(message, input.privateKey);
  return (
    `${AUTH_SCHEMA} mchid="${input.mchId}",nonce_str="${input.nonce}",signature="${signature}",` +
    `timestamp="${input.timestamp}",serial_no="${input.serialNo}"`
  );
}
