/**
 * Builds the signed parameter set of one gateway.do call (C.2, C.3) and the three ways it leaves
 * this process: a POST (common parameters in the URL, biz_content in the form body, as the official
 * SDK sends it), a browser URL or auto-submitting form (page/wap pay), or the app SDK's order string.
 */
import type { AlipayMerchant } from './config.ts';
import { beijingTime, requestSigningString, signRsa2 } from './sign.ts';

export interface RequestOptions {
  notifyUrl?: string | null;
  returnUrl?: string | null;
}

export type SignedParams = Readonly<Record<string, string>>;

/** The parameters ALISDK puts in the query string; the rest goes in the form body. */
const URL_PARAMS = new Set([
  'app_id',
  'method',
  'format',
  'charset',
  'sign_type',
  'sign',
  'timestamp',
  'version',
  'notify_url',
  'return_url',
  'auth_token',
  'app_auth_token',
  'app_cert_sn',
  'alipay_root_cert_sn',
]);

export function signedParams(
  merchant: AlipayMerchant,
  method: string,
  bizContent: Record<string, unknown>,
  options: RequestOptions,
  nowMs: number,
): SignedParams {
  const params: Record<string, string> = {
    app_id: merchant.appId,
    method,
    format: 'JSON',
    charset: 'utf-8',
    sign_type: 'RSA2',
    timestamp: beijingTime(nowMs),
    version: '1.0',
    biz_content: JSON.stringify(bizContent),
  };
  // Empty values are never sent: the documented rule leaves them out of the signature anyway.
  if (options.notifyUrl) params.notify_url = options.notifyUrl;
  if (options.returnUrl) params.return_url = options.returnUrl;
  if (merchant.appAuthToken) params.app_auth_token = merchant.appAuthToken;
  if (merchant.certSn) {
    params.app_cert_sn = merchant.certSn.app;
    params.alipay_root_cert_sn = merchant.certSn.root;
  }
  params.sign = signRsa2(merchant.privateKey, requestSigningString(params));
  return params;
}

/** The POST of a server-to-server call: URL with the common parameters, body with the rest. */
export function postRequest(gatewayUrl: string, params: SignedParams): { url: string; body: string } {
  const url = new URL(gatewayUrl);
  const body = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (URL_PARAMS.has(key)) url.searchParams.set(key, value);
    else body.set(key, value);
  }
  return { url: url.toString(), body: body.toString() };
}

/** A GET URL that opens the cashier directly (every parameter in the query). */
export function pageUrl(gatewayUrl: string, params: SignedParams): string {
  const url = new URL(gatewayUrl);
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  return url.toString();
}

const escapeHtml = (value: string): string =>
  value
    .replace(/&/g, '&amp;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');

/** An HTML form that posts the signed parameters to the cashier as soon as the page loads. */
export function autoSubmitForm(gatewayUrl: string, params: SignedParams): string {
  const inputs = Object.entries(params)
    .map(([key, value]) => `<input type="hidden" name="${escapeHtml(key)}" value="${escapeHtml(value)}">`)
    .join('');
  return (
    `<form id="alipaysubmit" name="alipaysubmit" action="${escapeHtml(gatewayUrl)}" method="POST" accept-charset="utf-8">` +
    `${inputs}</form><script>document.forms.alipaysubmit.submit();</script>`
  );
}

/** The app SDK's order string: `k=urlencode(v)` of every signed parameter. */
export function orderString(params: SignedParams): string {
  return Object.keys(params)
    .sort()
    .map((key) => `${key}=${encodeURIComponent(params[key]!)}`)
    .join('&');
}
