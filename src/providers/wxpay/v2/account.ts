/** One APIv2 account behind the wxpay provider: its settings, its XML transport, its operations. */
import { createHash } from 'node:crypto';
import type { GatewayAccountFacts } from '../../provider.ts';
import { resolveV2Merchant, type WxpayV2MerchantConfig } from './config.ts';
import type { WxpayV2Context } from './operations.ts';
import { type V2TransportOptions, WxpayV2Transport } from './transport.ts';

export function createV2Context(
  config: WxpayV2MerchantConfig,
  options: Omit<V2TransportOptions, 'merchant'> & { now: () => number },
): WxpayV2Context {
  const merchant = resolveV2Merchant(config);
  const { now, ...transport } = options;
  return { merchant, transport: new WxpayV2Transport({ merchant, ...transport }), now };
}

/** Operators' view of an APIv2 account: never the API key, only the client certificate's public facts. */
export function v2AccountFacts(account: string, context: WxpayV2Context): GatewayAccountFacts {
  const { merchant } = context;
  const certificate = merchant.clientCertificate;
  return {
    provider: 'wxpay',
    merchantId: merchant.merchantId,
    account,
    mchId: merchant.mchId,
    appId: merchant.appId,
    appIds: Object.fromEntries(
      Object.entries(merchant.appIds).filter((entry): entry is [string, string] => Boolean(entry[1])),
    ),
    keyMode: `apiv2_${merchant.signType.toLowerCase().replace('-', '_')}`,
    keys: [],
    certificates: certificate
      ? [
          {
            role: 'merchant_api',
            serial: certificate.serial,
            notBefore: certificate.notBefore.toISOString(),
            notAfter: certificate.notAfter.toISOString(),
            sha256: createHash('sha256')
              .update(certificate.cert.replace(/-----[^-]+-----|\s/g, ''), 'base64')
              .digest('hex'),
          },
        ]
      : [],
    gatewayUrl: merchant.baseUrl,
  };
}
