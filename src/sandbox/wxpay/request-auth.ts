/**
 * Verifies the `Authorization: WECHATPAY2-SHA256-RSA2048 ...` header of an APIv3 request
 * against the registered merchant key, and fails the way the gateway does: 401 SIGN_ERROR.
 */
import type { Merchant, MerchantRegistry } from './merchants.ts';
import { requestSigningString, verifySha256Rsa } from './wire-crypto.ts';
import { signError, type WxpayWireError } from './wire-errors.ts';

export const AUTHORIZATION_SCHEME = 'WECHATPAY2-SHA256-RSA2048';
/** WeChat gives no number; the SDKs use ±5 minutes for responses, so we use it for requests too. */
export const MAX_CLOCK_SKEW_SECONDS = 300;

export interface AuthorizationParams {
  mchid: string;
  nonce_str: string;
  signature: string;
  timestamp: string;
  serial_no: string;
}

const REQUIRED_PARAMS = ['mchid', 'nonce_str', 'signature', 'timestamp', 'serial_no'] as const;

function malformedAuthorization(issue: string): WxpayWireError {
  return signError('Http头Authorization值格式错误，请参考《微信支付商户REST API签名规则》', {
    field: 'Authorization',
    location: 'header',
    detail: { issue },
  });
}

/** Parameters may come in any order, each as key="value". */
export function parseAuthorization(header: string | undefined): AuthorizationParams {
  if (!header) throw malformedAuthorization('missing Authorization header');
  const space = header.indexOf(' ');
  const scheme = space < 0 ? header : header.slice(0, space);
  if (scheme !== AUTHORIZATION_SCHEME) throw malformedAuthorization(`unsupported scheme ${scheme}`);
  const params: Record<string, string> = {};
  for (const part of header.slice(space + 1).split(',')) {
    const match = /^\s*([a-z_]+)="([^"]*)"\s*$/.exec(part);
    if (!match) throw malformedAuthorization(`malformed parameter ${part.trim().slice(0, 32)}`);
    params[match[1]!] = match[2]!;
  }
  for (const name of REQUIRED_PARAMS) {
    if (!params[name]) throw malformedAuthorization(`missing ${name}`);
  }
  return params as unknown as AuthorizationParams;
}

export interface SignedRequest {
  method: string;
  /** Path and query exactly as received. */
  pathWithQuery: string;
  body: string;
  authorization: string | undefined;
}

/** Returns the authenticated merchant, or throws 401 SIGN_ERROR with a gateway-like detail. */
export function authenticateRequest(
  request: SignedRequest,
  merchants: MerchantRegistry,
  nowMs: number,
): Merchant {
  const auth = parseAuthorization(request.authorization);
  const merchant = merchants.get(auth.mchid);
  if (!merchant) {
    throw signError('商户号不存在或未开通APIv3', {
      field: 'mchid',
      location: 'authorization',
      value: auth.mchid,
    });
  }
  if (auth.serial_no.toUpperCase() !== merchant.merchantSerialNo) {
    throw signError('商户证书序列号有误。请使用签名私钥匹配的证书序列号', {
      field: 'serial_no',
      location: 'authorization',
      value: auth.serial_no,
    });
  }
  const timestamp = Number(auth.timestamp);
  if (!/^\d{1,12}$/.test(auth.timestamp) || Math.abs(nowMs / 1000 - timestamp) > MAX_CLOCK_SKEW_SECONDS) {
    throw signError('Http头Authorization中的timestamp已过期或与当前时间相差过大', {
      field: 'timestamp',
      location: 'authorization',
      value: auth.timestamp,
      detail: { issue: `allowed skew is ${MAX_CLOCK_SKEW_SECONDS}s` },
    });
  }
  const message = requestSigningString(
    request.method,
    request.pathWithQuery,
    auth.timestamp,
    auth.nonce_str,
    request.body,
  );
  let verified = false;
  try {
    verified = verifySha256Rsa(message, auth.signature, merchant.merchantPublicKey);
  } catch {
    // A signature that is not even valid base64/RSA input is simply a wrong signature.
    verified = false;
  }
  if (!verified) {
    throw signError('错误的签名，验签失败', {
      field: 'signature',
      location: 'authorization',
      detail: { issue: 'sign not match' },
      sign_information: {
        method: request.method,
        url: request.pathWithQuery,
        sign_message_length: Buffer.byteLength(message, 'utf8'),
        truncated_sign_message: truncateSigningString(message),
      },
    });
  }
  return merchant;
}

/** The gateway echoes the string it checked, with the nonce and body cut short. */
function truncateSigningString(message: string): string {
  const [method, url, timestamp, nonce = '', ...bodyLines] = message.split('\n');
  const body = bodyLines.slice(0, -1).join('\n');
  const shortBody = body.length > 64 ? `${body.slice(0, 64)}...` : body;
  return `${method}\n${url}\n${timestamp}\n${nonce.slice(0, 4)}...\n${shortBody}\n`;
}
