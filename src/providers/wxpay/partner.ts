/**
 * Service-provider mode (服务商 / partner mode): a service provider (sp_mchid, sp_appid) holds the
 * keys, the APIv3 key and WeChat Pay's public key or platform certificates once; each sub-merchant
 * (sub_mchid, optional sub_appid) is a merchant of ours that names its service provider. Every
 * call is signed by the service provider and names the sub-merchant.
 */
import { PayError } from '../../core/errors.ts';
import {
  appIdFor,
  resolveMerchant,
  type WxpayMerchant,
  type WxpayMerchantConfig,
  type WxpayScene,
} from './config.ts';

/** A service provider's keys and settings, declared once and shared by its sub-merchants. */
export interface WxpayServiceProviderConfig
  extends Omit<WxpayMerchantConfig, 'merchantId' | 'account' | 'mchId' | 'appId' | 'appIds' | 'apiVersion'> {
  /** Our name for it, which sub-merchants give as `serviceProvider`. */
  id: string;
  /** The service provider's merchant number (sp_mchid); it signs every request. */
  spMchId: string;
  /** The service provider's appid (sp_appid), bound to sp_mchid. */
  spAppId: string;
  /** A different sp_appid per scene. */
  spAppIds?: Partial<Record<WxpayScene, string>>;
}

/** A sub-merchant (特约商户): one of our merchants, paid through its service provider. */
export interface WxpaySubMerchantConfig {
  apiVersion?: 'v3';
  /** Our merchant id (the tenant inside VK-Pay). */
  merchantId: string;
  account?: string;
  /** The `id` of its service provider. */
  serviceProvider: string;
  /** The sub-merchant's merchant number (sub_mchid). */
  subMchId: string;
  /**
   * The sub-merchant's own appid (sub_appid), bound to sub_mchid. With one, JSAPI and mini program
   * payers are named by their openid under it (payer.sub_openid); without, under sp_appid (sp_openid).
   */
  subAppId?: string;
  /** A different sub_appid per scene. */
  subAppIds?: Partial<Record<WxpayScene, string>>;
}

/** Which sub-merchant a context speaks for, and through which service provider. */
export interface WxpayPartner {
  serviceProvider: string;
  spMchId: string;
  subMchId: string;
  subAppId: string | null;
  subAppIds: Partial<Record<WxpayScene, string>>;
}

export function isSubMerchantConfig(config: object): config is WxpaySubMerchantConfig {
  return (
    'serviceProvider' in config && (config as { serviceProvider?: unknown }).serviceProvider !== undefined
  );
}

function partnerError(field: string, message: string): PayError {
  return new PayError(40003, { field, message });
}

const MCHID = /^\d{6,32}$/;

export function resolveServiceProvider(config: WxpayServiceProviderConfig): WxpayMerchant {
  if (!config.id) throw partnerError('id', 'a wxpay service provider needs an id');
  if (!config.spMchId)
    throw partnerError('spMchId', `wxpay service provider ${config.id}: spMchId is required`);
  if (!config.spAppId)
    throw partnerError('spAppId', `wxpay service provider ${config.id}: spAppId is required`);
  const { id, spMchId, spAppId, spAppIds, ...keys } = config;
  return resolveMerchant(
    { ...keys, merchantId: id, mchId: spMchId, appId: spAppId, ...(spAppIds ? { appIds: spAppIds } : {}) },
    'service provider',
  );
}

export function resolvePartner(
  config: WxpaySubMerchantConfig,
  serviceProvider: WxpayMerchant | undefined,
): WxpayPartner {
  const who = `wxpay sub-merchant ${config.merchantId}`;
  if (!config.merchantId) throw partnerError('merchantId', 'a wxpay sub-merchant needs a merchantId');
  if (!serviceProvider)
    throw partnerError(
      'serviceProvider',
      `${who}: service provider ${JSON.stringify(String(config.serviceProvider).slice(0, 64))} is not configured`,
    );
  if (config.apiVersion !== undefined && config.apiVersion !== 'v3')
    throw partnerError('apiVersion', `${who}: partner mode is APIv3 only`);
  if (!config.subMchId) throw partnerError('subMchId', `${who}: subMchId is required`);
  if (typeof config.subMchId !== 'string' || !MCHID.test(config.subMchId))
    throw partnerError('subMchId', `${who}: subMchId must be the digits of a WeChat Pay merchant number`);
  if (config.subMchId === serviceProvider.mchId)
    throw partnerError('subMchId', `${who}: subMchId is the service provider's own sp_mchid`);
  return {
    serviceProvider: serviceProvider.merchantId,
    spMchId: serviceProvider.mchId,
    subMchId: config.subMchId,
    subAppId: config.subAppId ?? null,
    subAppIds: { ...config.subAppIds },
  };
}

/** The sub_appid a scene pays into, if the sub-merchant has one. */
export function subAppIdFor(partner: WxpayPartner, scene: WxpayScene): string | null {
  return partner.subAppIds[scene] ?? partner.subAppId;
}

/**
 * The appid the payer's client invokes payment with, and that the notification names: the
 * sub_appid when the payment is under one, else the service provider's sp_appid.
 */
export function partnerAppIdFor(merchant: WxpayMerchant, partner: WxpayPartner, scene: WxpayScene): string {
  return subAppIdFor(partner, scene) ?? appIdFor(merchant, scene);
}
