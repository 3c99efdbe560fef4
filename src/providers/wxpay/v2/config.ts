/**
 * A WeChat Pay account on APIv2: the API key that signs every message (MD5 or HMAC-SHA256), and
 * the merchant's API client certificate and key, which /secapi (refunds) asks for over mutual TLS.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { PayError } from '../../../core/errors.ts';
import { DEFAULT_BASE_URL, DEFAULT_RETRY, type RetryPolicy, type WxpayScene } from '../config.ts';
import { V2_SIGN_TYPES, type V2SignType } from './sign.ts';

export interface WxpayV2MerchantConfig {
  /** Selects APIv2 for this account; accounts without it are APIv3. */
  apiVersion: 'v2';
  /** Our merchant id (the tenant inside VK-Pay), not WeChat's. */
  merchantId: string;
  /** Which of the merchant's WeChat Pay accounts this is; `default` when unset. */
  account?: string;
  /** WeChat Pay merchant number (mch_id). */
  mchId: string;
  /** Default appid bound to the mch_id. */
  appId: string;
  appIds?: Partial<Record<WxpayScene, string>>;
  /** The 32-character APIv2 key set in the merchant platform. */
  apiKey: string;
  /** How messages are signed; MD5 when unset. */
  signType?: V2SignType;
  /** The merchant API certificate and its private key (apiclient_cert.pem, apiclient_key.pem), for refunds. */
  clientCertificate?: { cert: string; key: string };
  /** Certificate authorities trusted for the gateway's TLS besides the system's (a sandbox's own CA). */
  gatewayCaPems?: string[];
  baseUrl?: string;
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
}

export interface WxpayV2Merchant {
  merchantId: string;
  mchId: string;
  appId: string;
  appIds: Partial<Record<WxpayScene, string>>;
  apiKey: string;
  signType: V2SignType;
  clientCertificate: { cert: string; key: string; serial: string; notBefore: Date; notAfter: Date } | null;
  gatewayCaPems: string[];
  baseUrl: string;
  timeoutMs: number;
  retry: RetryPolicy;
}

function configError(merchantId: string, field: string, problem: string): PayError {
  // The field's name only: a key's value must never be echoed into an error.
  return new PayError(40003, { field, message: `wxpay merchant ${merchantId}: ${field} ${problem}` });
}

export function isV2Config(config: object): config is WxpayV2MerchantConfig {
  return (config as { apiVersion?: unknown }).apiVersion === 'v2';
}

export function resolveV2Merchant(config: WxpayV2MerchantConfig): WxpayV2Merchant {
  const id = config.merchantId;
  if (!id) throw new PayError(40003, { field: 'merchantId', message: 'wxpay merchantId is required' });
  for (const field of ['mchId', 'appId'] as const) {
    if (!config[field]) throw configError(id, field, 'is required');
  }
  if (typeof config.apiKey !== 'string' || !/^[\x21-\x7e]{32}$/.test(config.apiKey))
    throw configError(id, 'apiKey', 'must be the 32-character APIv2 key');
  const signType = config.signType ?? 'MD5';
  if (!(V2_SIGN_TYPES as readonly string[]).includes(signType))
    throw configError(id, 'signType', `must be one of ${V2_SIGN_TYPES.join(', ')}`);
  let clientCertificate: WxpayV2Merchant['clientCertificate'] = null;
  if (config.clientCertificate) {
    const { cert, key } = config.clientCertificate;
    let parsed: X509Certificate;
    try {
      parsed = new X509Certificate(cert);
    } catch {
      throw configError(id, 'clientCertificate.cert', 'is not a readable PEM certificate');
    }
    let privateKey: ReturnType<typeof createPrivateKey>;
    try {
      privateKey = createPrivateKey(key);
    } catch {
      throw configError(id, 'clientCertificate.key', 'is not a readable PEM private key');
    }
    if (!parsed.checkPrivateKey(privateKey))
      throw configError(id, 'clientCertificate.key', 'is not the key of clientCertificate.cert');
    clientCertificate = {
      cert,
      key,
      serial: parsed.serialNumber.toUpperCase(),
      notBefore: new Date(parsed.validFrom),
      notAfter: new Date(parsed.validTo),
    };
  }
  return {
    merchantId: id,
    mchId: config.mchId,
    appId: config.appId,
    appIds: { ...config.appIds },
    apiKey: config.apiKey,
    signType,
    clientCertificate,
    gatewayCaPems: config.gatewayCaPems ?? [],
    baseUrl: (config.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, ''),
    timeoutMs: config.timeoutMs ?? 10_000,
    retry: { ...DEFAULT_RETRY, ...config.retry },
  };
}
