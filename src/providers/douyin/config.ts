/**
 * Per-merchant Douyin settings and their validation. A merchant's app takes payments through the
 * general trade system (`trade`: RSA key pairs, tt.requestOrder) or the legacy guaranteed payment
 * (`ecpay`: a salt and a callback token, tt.pay). Keys become KeyObjects here, so no PEM string
 * travels further than this file.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { PayError } from '../../core/errors.ts';

export const DEFAULT_TRADE_BASE_URL = 'https://open.douyin.com';
export const DEFAULT_ECPAY_BASE_URL = 'https://developer.toutiao.com';
export const DOUYIN_APIS = ['trade', 'ecpay'] as const;
export type DouyinApi = (typeof DOUYIN_APIS)[number];

/** What a trade-system order's single sku says of the goods (the platform's goods type and tag group). */
export interface DouyinSkuConfig {
  /** Goods type from the platform's list (e.g. 401 for a virtual service). */
  type: number;
  /** The tag group id that goes with the goods type (tag_group_...). */
  tagGroupId: string;
  /** The goods image shown at the cashier. */
  imageUrl: string;
}

export interface DouyinMerchantConfig {
  /** Our merchant id (the tenant inside VK-Pay). */
  merchantId: string;
  /** Which of the merchant's Douyin apps this is; `default` when unset. */
  account?: string;
  /** `trade` (general trade system, the default) or `ecpay` (legacy guaranteed payment). */
  api?: DouyinApi;
  /** The mini app's appid (tt...). */
  appId: string;
  /** trade: the app secret that gets a client_token. */
  appSecret?: string;
  /** trade: the app's RSA-2048 private key (PKCS#8 or PKCS#1 PEM) or a KeyObject. */
  privateKey?: string | KeyObject;
  /** trade: the version of the app public key uploaded to the platform. */
  keyVersion?: string;
  /** trade: the platform public key shown in the console, which verifies callbacks. */
  platformPublicKey?: string | KeyObject;
  /** trade: the sku the order is sold as. */
  sku?: DouyinSkuConfig;
  /** trade: the order detail page of the mini app (orderEntrySchema.path). */
  orderEntryPath?: string;
  /** trade: the collecting merchant number, when the app has several. */
  merchantUid?: string;
  /** ecpay: the payment system salt (SALT) that signs requests. */
  salt?: string;
  /** ecpay: the callback token that signs callbacks (msg_signature). */
  token?: string;
  baseUrl?: string;
  timeoutMs?: number;
}

interface CommonSettings {
  merchantId: string;
  appId: string;
  baseUrl: string;
  timeoutMs: number;
}

export interface TradeMerchant extends CommonSettings {
  api: 'trade';
  appSecret: string;
  privateKey: KeyObject;
  keyVersion: string;
  platformPublicKey: KeyObject;
  sku: DouyinSkuConfig;
  orderEntryPath: string;
  merchantUid: string | null;
}

export interface EcpayMerchant extends CommonSettings {
  api: 'ecpay';
  salt: string;
  token: string;
}

export type DouyinMerchant = TradeMerchant | EcpayMerchant;

function configError(merchantId: string, field: string, problem: string): PayError {
  // The field only: a secret's value is never echoed into an error.
  return new PayError(40003, { field, message: `douyin merchant ${merchantId}: ${field} ${problem}` });
}

function privateKeyOf(id: string, key: string | KeyObject | undefined): KeyObject {
  if (!key) throw configError(id, 'privateKey', 'is required');
  if (typeof key !== 'string') {
    if (key.type !== 'private') throw configError(id, 'privateKey', 'must be a private key');
    return key;
  }
  try {
    return createPrivateKey(key);
  } catch {
    throw configError(id, 'privateKey', 'is not a readable PEM private key');
  }
}

function publicKeyOf(id: string, key: string | KeyObject | undefined): KeyObject {
  if (!key) throw configError(id, 'platformPublicKey', 'is required');
  if (typeof key !== 'string') return key.type === 'private' ? createPublicKey(key) : key;
  try {
    return createPublicKey(key);
  } catch {
    throw configError(id, 'platformPublicKey', 'is not a readable PEM public key');
  }
}

export function resolveMerchant(config: DouyinMerchantConfig): DouyinMerchant {
  const id = config.merchantId;
  if (!id) throw new PayError(40003, { field: 'merchantId', message: 'douyin merchantId is required' });
  if (!config.appId) throw configError(id, 'appId', 'is required');
  const api = config.api ?? 'trade';
  if (!DOUYIN_APIS.includes(api)) throw configError(id, 'api', `must be one of ${DOUYIN_APIS.join(', ')}`);
  const common = {
    merchantId: id,
    appId: config.appId,
    timeoutMs: config.timeoutMs ?? 10_000,
  };
  if (api === 'ecpay') {
    if (!config.salt) throw configError(id, 'salt', 'is required for api ecpay');
    if (!config.token) throw configError(id, 'token', 'is required for api ecpay');
    return {
      ...common,
      api,
      salt: config.salt,
      token: config.token,
      baseUrl: (config.baseUrl ?? DEFAULT_ECPAY_BASE_URL).replace(/\/+$/, ''),
    };
  }
  if (!config.appSecret) throw configError(id, 'appSecret', 'is required for api trade');
  if (!config.keyVersion) throw configError(id, 'keyVersion', 'is required for api trade');
  const sku = config.sku;
  if (!sku || !Number.isSafeInteger(sku.type) || !sku.tagGroupId || !sku.imageUrl)
    throw configError(id, 'sku', 'needs type (a number), tagGroupId and imageUrl');
  return {
    ...common,
    api,
    appSecret: config.appSecret,
    privateKey: privateKeyOf(id, config.privateKey),
    keyVersion: config.keyVersion,
    platformPublicKey: publicKeyOf(id, config.platformPublicKey),
    sku: { type: sku.type, tagGroupId: sku.tagGroupId, imageUrl: sku.imageUrl },
    orderEntryPath: config.orderEntryPath ?? 'pages/order/detail',
    merchantUid: config.merchantUid ?? null,
    baseUrl: (config.baseUrl ?? DEFAULT_TRADE_BASE_URL).replace(/\/+$/, ''),
  };
}
