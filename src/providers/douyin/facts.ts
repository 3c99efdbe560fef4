/**
 * A Douyin app as operators see it: the app id, which API it uses, and for the general trade
 * system the fingerprints of the app's public key (with its key version) and of the platform's.
 * Only public halves are read; the app secret, salt and token are never shown.
 */
import { publicKeySha256 } from '../fingerprint.ts';
import type { GatewayAccountFacts } from '../provider.ts';
import type { DouyinMerchant } from './config.ts';

export function douyinAccountFacts(account: string, merchant: DouyinMerchant): GatewayAccountFacts {
  return {
    provider: 'douyin',
    merchantId: merchant.merchantId,
    account,
    mchId: merchant.api === 'trade' ? merchant.merchantUid : null,
    appId: merchant.appId,
    appIds: {},
    keyMode: merchant.api === 'trade' ? 'douyin_trade_rsa' : 'douyin_ecpay_salt',
    keys:
      merchant.api === 'trade'
        ? [
            { role: 'app', id: merchant.keyVersion, sha256: publicKeySha256(merchant.privateKey) },
            {
              role: 'douyin_platform_public_key',
              id: null,
              sha256: publicKeySha256(merchant.platformPublicKey),
            },
          ]
        : [],
    certificates: [],
    gatewayUrl: merchant.baseUrl,
  };
}
