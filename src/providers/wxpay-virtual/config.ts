/**
 * One merchant account's mini program virtual payment settings: the mini program (appId, appSecret
 * for the access token), the virtual payment offer (offerId, the production and sandbox AppKeys,
 * which env it pays in), its message push (token, EncodingAESKey) and the products on sale.
 */
import { PayError } from '../../core/errors.ts';
import { aesKeyOf } from './sign.ts';

export const PRODUCTION_URL = 'https://api.weixin.qq.com';

/** 0: production (现网), 1: sandbox (沙箱), as signData's and the APIs' `env`. */
export type VirtualEnv = 0 | 1;

export interface WxpayVirtualMerchantConfig {
  merchantId: string;
  account?: string;
  appId: string;
  appSecret: string;
  offerId: string;
  /** The AppKeys of the virtual payment's basic configuration: production and sandbox. */
  appKey: string;
  sandboxAppKey?: string;
  /** 0 production, 1 sandbox; the AppKey of this env signs everything. */
  env?: VirtualEnv;
  /** The message push's token (URL signature) and, for the encrypted mode, its EncodingAESKey. */
  pushToken: string;
  encodingAesKey?: string;
  /** The mini program's original id (gh_...): checked against a plain push's ToUserName when set. */
  originalId?: string;
  /** short_series_goods products: their unit price in fen, checked against the order. */
  products?: Record<string, number>;
  /** short_series_coin: what one coin costs, in fen. */
  coinPriceFen?: number;
  /**
   * Whether WeChat offers this mini program's category virtual payment on iOS; false by default, as
   * WeChat forbids it there for most categories.
   */
  allowIos?: boolean;
  /** signData's platform; android by default. */
  platform?: string;
  /** The API host; WeChat's by default, the emulator's in tests. */
  baseUrl?: string;
  timeoutMs?: number;
}

export interface WxpayVirtualMerchant {
  merchantId: string;
  appId: string;
  appSecret: string;
  offerId: string;
  env: VirtualEnv;
  /** The AppKey of `env`. */
  appKey: string;
  pushToken: string;
  aesKey: Buffer | null;
  originalId: string | null;
  products: Map<string, number>;
  coinPriceFen: number | null;
  platform: string;
  allowIos: boolean;
  baseUrl: string;
  timeoutMs: number;
}

function invalid(merchantId: string, field: string, message: string): PayError {
  return new PayError(40003, { field, message: `wxpay-virtual merchant ${merchantId}: ${message}` });
}

const nonEmpty = (value: unknown): value is string => typeof value === 'string' && value.length > 0;

export function resolveMerchant(config: WxpayVirtualMerchantConfig): WxpayVirtualMerchant {
  const id = String(config.merchantId);
  if (!nonEmpty(config.appId) || !/^wx[0-9a-f]{16}$/i.test(config.appId))
    throw invalid(id, 'appId', 'appId must be a mini program appid (wx + 16 hex)');
  if (!nonEmpty(config.appSecret)) throw invalid(id, 'appSecret', 'appSecret is required');
  if (!nonEmpty(config.offerId)) throw invalid(id, 'offerId', 'offerId is required');
  const env = config.env ?? 0;
  if (env !== 0 && env !== 1) throw invalid(id, 'env', 'env must be 0 (production) or 1 (sandbox)');
  const appKey = env === 0 ? config.appKey : config.sandboxAppKey;
  const keyField = env === 0 ? 'appKey' : 'sandboxAppKey';
  if (!nonEmpty(appKey)) throw invalid(id, keyField, `${keyField}, the AppKey of env ${env}, is required`);
  if (!nonEmpty(config.pushToken) || !/^[A-Za-z0-9]{3,32}$/.test(config.pushToken))
    throw invalid(id, 'pushToken', 'pushToken must be 3 to 32 letters or digits');
  let aesKey: Buffer | null = null;
  if (config.encodingAesKey !== undefined) {
    try {
      aesKey = aesKeyOf(config.encodingAesKey);
    } catch {
      throw invalid(id, 'encodingAesKey', 'encodingAesKey must be 43 characters of base64');
    }
  }
  const products = new Map<string, number>();
  for (const [productId, priceFen] of Object.entries(config.products ?? {})) {
    if (!Number.isSafeInteger(priceFen) || priceFen <= 0)
      throw invalid(id, 'products', `product ${productId}: the price must be a positive integer of fen`);
    products.set(productId, priceFen);
  }
  const coinPriceFen = config.coinPriceFen ?? null;
  if (coinPriceFen !== null && (!Number.isSafeInteger(coinPriceFen) || coinPriceFen <= 0))
    throw invalid(id, 'coinPriceFen', 'coinPriceFen must be a positive integer of fen');
  return {
    merchantId: id,
    appId: config.appId,
    appSecret: config.appSecret,
    offerId: config.offerId,
    env,
    appKey,
    pushToken: config.pushToken,
    aesKey,
    originalId: config.originalId ?? null,
    products,
    coinPriceFen,
    platform: config.platform ?? 'android',
    allowIos: config.allowIos === true,
    baseUrl: (config.baseUrl ?? PRODUCTION_URL).replace(/\/+$/, ''),
    timeoutMs: config.timeoutMs ?? 10_000,
  };
}
