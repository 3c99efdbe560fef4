/**
 * A WeChat Pay account as operators see it: the mchid and app ids, the key mode, fingerprints of
 * the merchant's public key and of the WeChat Pay public key, the merchant API certificate's serial
 * and each platform certificate with its dates. Only public halves are read.
 */

import { publicKeySha256 } from '../fingerprint.ts';
import type { GatewayAccountFacts } from '../provider.ts';
import type { WxpayContext } from './context.ts';

export function wxpayAccountFacts(account: string, context: WxpayContext): GatewayAccountFacts {
  const { merchant, keys } = context;
  const platform = keys.certificates();
  const usesCertificates = merchant.certificatePems.length > 0 || merchant.downloadCertificates;
  const keyMode = merchant.publicKey
    ? usesCertificates
      ? 'both'
      : 'wechatpay_public_key'
    : 'platform_certificates';
  const { partner } = context;
  const appIds = partner ? { ...merchant.appIds, ...partner.subAppIds } : merchant.appIds;
  return {
    provider: 'wxpay',
    merchantId: merchant.merchantId,
    account,
    mchId: partner ? partner.subMchId : merchant.mchId,
    appId: partner ? (partner.subAppId ?? merchant.appId) : merchant.appId,
    appIds: Object.fromEntries(
      Object.entries(appIds).filter((entry): entry is [string, string] => Boolean(entry[1])),
    ),
    ...(partner
      ? { serviceProvider: { id: partner.serviceProvider, mchId: partner.spMchId, appId: merchant.appId } }
      : {}),
    keyMode,
    keys: [
      { role: 'merchant', id: null, sha256: publicKeySha256(merchant.privateKey) },
      ...(merchant.publicKey
        ? [
            {
              role: 'wechatpay_public_key',
              id: merchant.publicKey.id,
              sha256: publicKeySha256(merchant.publicKey.key),
            },
          ]
        : []),
    ],
    certificates: [
      // Only the serial of the merchant's own API certificate is configured; its dates are not known here.
      { role: 'merchant_api', serial: merchant.serialNo, notBefore: null, notAfter: null, sha256: null },
      ...platform.map((certificate) => ({
        role: 'platform',
        serial: certificate.serialNo,
        notBefore: certificate.notBefore.toISOString(),
        notAfter: certificate.notAfter.toISOString(),
        sha256: certificate.sha256 ?? null,
      })),
    ],
    gatewayUrl: merchant.baseUrl,
  };
}
