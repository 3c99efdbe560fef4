/**
 * The first run: with no gateway merchants configured and the sandbox on, VK-Pay makes a demo
 * merchant with freshly generated keys, registers it with the mounted emulators, and points the
 * providers at them. Nothing is written to disk; every start gets new keys.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { AlipayMerchantConfig } from '../providers/alipay/index.ts';
import type { WxpayMerchantConfig } from '../providers/wxpay/config.ts';
import type { AlipayGateway } from '../sandbox/alipay/index.ts';
import type { WxpayGateway } from '../sandbox/wxpay/index.ts';

export const DEMO_MERCHANT = 'demo';

export async function demoWxpayMerchant(
  gateway: WxpayGateway,
  baseUrl: string,
): Promise<WxpayMerchantConfig> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const mchId = '1900000109';
  const appId = 'wxd678efh567hg6787';
  const apiV3Key = randomBytes(16).toString('hex');
  const serialNo = randomBytes(20).toString('hex').toUpperCase();
  const credentials = await gateway.merchants.register({
    mchid: mchId,
    appid: appId,
    apiV3Key,
    merchantSerialNo: serialNo,
    merchantPublicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyMode: 'publicKey',
  });
  return {
    merchantId: DEMO_MERCHANT,
    mchId,
    appId,
    serialNo,
    privateKey,
    apiV3Key,
    baseUrl,
    wechatpayPublicKey: { id: credentials.publicKeyId!, pem: credentials.publicKeyPem! },
  };
}

export const DEMO_ALIPAY_APP_ID = '2021000000000001';

export async function demoAlipayApp(
  gateway: AlipayGateway,
  gatewayUrl: string,
): Promise<AlipayMerchantConfig> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const credentials = await gateway.apps.register({
    appId: DEMO_ALIPAY_APP_ID,
    keyMode: 'publicKey',
    appPublicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  });
  return {
    merchantId: DEMO_MERCHANT,
    appId: credentials.appId,
    privateKey,
    alipayPublicKey: credentials.alipayPublicKey,
    sellerId: credentials.sellerId,
    baseUrl: gatewayUrl,
  };
}
