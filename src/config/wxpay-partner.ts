/**
 * WeChat Pay service providers (服务商) in the service config file: `wxpayServiceProviders` holds
 * each one's keys once (secrets by reference), and a `wxpay` entry with `serviceProvider` is a
 * sub-merchant of ours paid through it. Checked at start, field by field, never echoing a secret.
 */
import type { WxpayServiceProviderConfig, WxpaySubMerchantConfig } from '../providers/wxpay/partner.ts';
import { ConfigError } from './config.ts';
import { resolveSecret, type SecretContext } from './secrets.ts';

const SP_ID = /^[A-Za-z0-9_-]{1,32}$/;
const MCHID = /^\d{6,32}$/;
const SUB_MERCHANT_KEYS = [
  'apiVersion',
  'merchantId',
  'account',
  'serviceProvider',
  'subMchId',
  'subAppId',
  'subAppIds',
];

export function wxpayServiceProvidersOf(
  value: unknown,
  secrets: SecretContext,
): WxpayServiceProviderConfig[] {
  if (value === undefined) return [];
  if (
    !Array.isArray(value) ||
    value.some((item) => item === null || typeof item !== 'object' || Array.isArray(item))
  )
    throw new ConfigError('wxpayServiceProviders must be a list of objects');
  const seen = new Set<string>();
  return (value as Record<string, unknown>[]).map((entry, i) => {
    const field = (name: string) => `wxpayServiceProviders[${i}].${name}`;
    if (typeof entry.id !== 'string' || !SP_ID.test(entry.id))
      throw new ConfigError(`${field('id')} must be 1 to 32 letters, digits, _ or -`);
    if (seen.has(entry.id))
      throw new ConfigError(`${field('id')}: service provider ${entry.id} is configured twice`);
    seen.add(entry.id);
    if (typeof entry.spMchId !== 'string' || !MCHID.test(entry.spMchId))
      throw new ConfigError(`${field('spMchId')} must be the service provider's merchant number (digits)`);
    if (typeof entry.spAppId !== 'string' || entry.spAppId === '')
      throw new ConfigError(`${field('spAppId')} must be the service provider's appid`);
    if ('merchantId' in entry || 'mchId' in entry)
      throw new ConfigError(
        `${field('merchantId')}: a service provider is not a merchant; name it in wxpay[].serviceProvider of its sub-merchants`,
      );
    const publicKey = entry.wechatpayPublicKey as { id?: unknown; pem?: unknown } | undefined;
    return {
      ...(entry as unknown as WxpayServiceProviderConfig),
      privateKey: resolveSecret(entry.privateKey, field('privateKey'), secrets),
      apiV3Key: resolveSecret(entry.apiV3Key, field('apiV3Key'), secrets),
      ...(publicKey
        ? {
            wechatpayPublicKey: {
              id: String(publicKey.id ?? ''),
              pem: resolveSecret(publicKey.pem, field('wechatpayPublicKey.pem'), {
                ...secrets,
                allowInline: true,
              }),
            },
          }
        : {}),
    };
  });
}

/**
 * A `wxpay[i]` entry that names a service provider: it must name a configured one, have its own
 * sub_mchid, carry none of the service provider's keys, and no two of ours may share a sub_mchid
 * (they would see each other's orders).
 */
export function wxpaySubMerchantOf(
  entry: Record<string, unknown>,
  i: number,
  serviceProviders: WxpayServiceProviderConfig[],
  taken: Map<string, string>,
): WxpaySubMerchantConfig {
  const field = (name: string) => `wxpay[${i}].${name}`;
  const named = entry.serviceProvider;
  const provider = serviceProviders.find((candidate) => candidate.id === named);
  if (!provider) {
    const known = serviceProviders.map((candidate) => candidate.id);
    throw new ConfigError(
      `${field('serviceProvider')} names ${JSON.stringify(String(named).slice(0, 64))}, which is not in wxpayServiceProviders` +
        (known.length > 0 ? ` (known: ${known.join(', ')})` : ' (none is configured)'),
    );
  }
  if (entry.apiVersion !== undefined && entry.apiVersion !== 'v3')
    throw new ConfigError(`${field('apiVersion')}: partner mode is APIv3 only; leave it out or say "v3"`);
  if (typeof entry.merchantId !== 'string' || entry.merchantId === '')
    throw new ConfigError(`${field('merchantId')} must be a non-empty string`);
  if (entry.subMchId === undefined || entry.subMchId === '')
    throw new ConfigError(`${field('subMchId')} is required for a sub-merchant of ${provider.id}`);
  if (typeof entry.subMchId !== 'string' || !MCHID.test(entry.subMchId))
    throw new ConfigError(`${field('subMchId')} must be the sub-merchant's merchant number (digits)`);
  if (entry.subMchId === provider.spMchId)
    throw new ConfigError(`${field('subMchId')} is the service provider's own spMchId`);
  const foreign = Object.keys(entry).filter((key) => !SUB_MERCHANT_KEYS.includes(key));
  if (foreign.length > 0)
    throw new ConfigError(
      `${field(foreign[0]!)}: a sub-merchant carries no keys or gateway settings of its own; they belong to service provider ${provider.id} (allowed: ${SUB_MERCHANT_KEYS.join(', ')})`,
    );
  if (entry.subAppId !== undefined && (typeof entry.subAppId !== 'string' || entry.subAppId === ''))
    throw new ConfigError(`${field('subAppId')} must be a non-empty string`);
  const key = `${provider.id}/${entry.subMchId}`;
  const other = taken.get(key);
  if (other !== undefined && other !== entry.merchantId)
    throw new ConfigError(
      `${field('subMchId')}: sub-merchant ${entry.subMchId} of ${provider.id} is already merchant ${other}; two merchants cannot share one`,
    );
  taken.set(key, entry.merchantId);
  return entry as unknown as WxpaySubMerchantConfig;
}
