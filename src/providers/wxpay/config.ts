/**
 * Per-merchant WeChat Pay APIv3 settings, and their validation into the shape the transport uses.
 * Keys become KeyObjects and Buffers here so that no PEM string travels further than this file.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { PayError } from '../../core/errors.ts';

export const DEFAULT_BASE_URL = 'https://api.mch.weixin.qq.com';
export const WXPAY_SCENES = ['jsapi', 'miniprogram', 'app', 'h5', 'native'] as const;
export type WxpayScene = (typeof WXPAY_SCENES)[number];

export interface RetryPolicy {
  /** Total attempts including the first one. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 2_000 };

export interface WxpayMerchantConfig {
  /** APIv3 (the default); an APIv2 account is a WxpayV2MerchantConfig with apiVersion 'v2'. */
  apiVersion?: 'v3';
  /** Our merchant id (the tenant inside VK-Pay), not WeChat's. */
  merchantId: string;
  /** Which of the merchant's WeChat Pay accounts this is, for routes and its orders; `default` when unset. */
  account?: string;
  /** WeChat Pay merchant number (mchid). */
  mchId: string;
  /** Default appid bound to the mchid. */
  appId: string;
  /** A different appid per scene, when the mini program, official account and APP are separate apps. */
  appIds?: Partial<Record<WxpayScene, string>>;
  /** Serial number of the merchant API certificate (40 hex), sent as serial_no in Authorization. */
  serialNo: string;
  /** Merchant API private key (apiclient_key.pem, PKCS#8 PEM) or a KeyObject. */
  privateKey: string | KeyObject;
  /** The 32-byte APIv3 key that decrypts notifications and platform certificates. */
  apiV3Key: string;
  /** WeChat Pay public-key mode: the key id ('PUB_KEY_ID_...') and its PEM. */
  wechatpayPublicKey?: { id: string; pem: string | KeyObject };
  /**
   * Platform-certificate mode: certificates known in advance (PEM) and whether to download them from
   * /v3/certificates. Both modes may be configured at once for the migration period.
   */
  platformCertificates?: { pems?: string[]; download?: boolean };
  baseUrl?: string;
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** How often downloaded platform certificates are refreshed (WXJAVA uses 60 minutes). */
  certificateRefreshMs?: number;
}

/** A merchant's settings after validation; the secrets only exist in these fields. */
export interface WxpayMerchant {
  merchantId: string;
  mchId: string;
  appId: string;
  appIds: Partial<Record<WxpayScene, string>>;
  serialNo: string;
  privateKey: KeyObject;
  apiV3Key: Buffer;
  publicKey: { id: string; key: KeyObject } | null;
  certificatePems: string[];
  downloadCertificates: boolean;
  baseUrl: string;
  timeoutMs: number;
  retry: RetryPolicy;
  certificateRefreshMs: number;
}

function configError(merchantId: string, field: string, problem: string, what = 'merchant'): PayError {
  // The message names the field only: a key's value must never be echoed into an error.
  return new PayError(40003, {
    field,
    message: `wxpay ${what} ${merchantId}: ${field} ${problem}`,
  });
}

function loadPrivateKey(merchantId: string, key: string | KeyObject): KeyObject {
  if (typeof key !== 'string') {
    if (key.type !== 'private') throw configError(merchantId, 'privateKey', 'must be a private key');
    return key;
  }
  try {
    return createPrivateKey(key);
  } catch {
    throw configError(merchantId, 'privateKey', 'is not a readable PEM private key');
  }
}

function loadPublicKey(merchantId: string, key: string | KeyObject): KeyObject {
  if (typeof key !== 'string') return key.type === 'private' ? createPublicKey(key) : key;
  try {
    return createPublicKey(key);
  } catch {
    throw configError(merchantId, 'wechatpayPublicKey.pem', 'is not a readable PEM public key');
  }
}

export function resolveMerchant(config: WxpayMerchantConfig, what = 'merchant'): WxpayMerchant {
  const id = config.merchantId;
  if (!id) throw new PayError(40003, { field: 'merchantId', message: 'wxpay merchantId is required' });
  for (const field of ['mchId', 'appId', 'serialNo'] as const) {
    if (!config[field]) throw configError(id, field, 'is required', what);
  }
  const apiV3Key = Buffer.from(config.apiV3Key ?? '', 'utf8');
  if (apiV3Key.length !== 32) throw configError(id, 'apiV3Key', 'must be exactly 32 bytes', what);
  const publicKey = config.wechatpayPublicKey;
  if (publicKey && !publicKey.id.startsWith('PUB_KEY_ID_')) {
    throw configError(id, 'wechatpayPublicKey.id', "must start with 'PUB_KEY_ID_'", what);
  }
  const certificates = config.platformCertificates;
  if (!publicKey && !certificates) {
    throw configError(
      id,
      'wechatpayPublicKey',
      'or platformCertificates is required to verify WeChat Pay',
      what,
    );
  }
  return {
    merchantId: id,
    mchId: config.mchId,
    appId: config.appId,
    appIds: { ...config.appIds },
    serialNo: config.serialNo.toUpperCase(),
    privateKey: loadPrivateKey(id, config.privateKey),
    apiV3Key,
    publicKey: publicKey ? { id: publicKey.id, key: loadPublicKey(id, publicKey.pem) } : null,
    certificatePems: certificates?.pems ?? [],
    downloadCertificates: certificates ? certificates.download !== false : false,
    baseUrl: (config.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, ''),
    timeoutMs: config.timeoutMs ?? 10_000,
    retry: { ...DEFAULT_RETRY, ...config.retry },
    certificateRefreshMs: config.certificateRefreshMs ?? 60 * 60 * 1000,
  };
}

/** The appid a scene pays into. */
export function appIdFor(merchant: WxpayMerchant, scene: WxpayScene): string {
  return merchant.appIds[scene] ?? merchant.appId;
}
