/**
 * An Alipay app as operators see it: the app id and seller id, the key mode, fingerprints of the
 * app's public key and of Alipay's, and in certificate mode the app's and Alipay's certificates
 * with their SNs and dates. Only public halves are read; the app auth token is never shown.
 */
import { publicKeySha256 } from '../fingerprint.ts';
import type { GatewayAccountFacts } from '../provider.ts';
import type { AlipayMerchant } from './config.ts';

export function alipayAccountFacts(account: string, merchant: AlipayMerchant): GatewayAccountFacts {
  return {
    provider: 'alipay',
    merchantId: merchant.merchantId,
    account,
    mchId: merchant.sellerId,
    appId: merchant.appId,
    appIds: {},
    keyMode: merchant.certSn ? 'alipay_certificate' : 'alipay_public_key',
    keys: [
      { role: 'app', id: null, sha256: publicKeySha256(merchant.privateKey) },
      { role: 'alipay_public_key', id: null, sha256: publicKeySha256(merchant.alipayPublicKey) },
    ],
    certificates: merchant.certificates,
    gatewayUrl: merchant.gatewayUrl,
  };
}
