/**
 * The first run: with no gateway merchants configured and the sandbox on, VK-Pay makes a demo
 * merchant with generated test keys, registers it with the mounted emulators, and points the
 * providers at them. The keys and secrets are kept in the sandbox folder of the data folder
 * (demo.json, beside the emulators' state), so a restart keeps the same merchant; with the data in
 * memory, every start gets new ones.
 */
import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { formatWebhookSecret } from '../core/webhooks.ts';
import type { AlipayMerchantConfig } from '../providers/alipay/index.ts';
import type { WxpayMerchantConfig } from '../providers/wxpay/config.ts';
import type { AlipayGateway } from '../sandbox/alipay/index.ts';
import { StateFile } from '../sandbox/shared/state-file.ts';
import type { WxpayGateway } from '../sandbox/wxpay/index.ts';

export const DEMO_MERCHANT = 'demo';
export const DEMO_ALIPAY_APP_ID = '2021000000000001';
const DEMO_MCH_ID = '1900000109';
const DEMO_APP_ID = 'wxd678efh567hg6787';

/** The demo merchant's test keys and secrets (generated here, never real ones). */
export interface DemoKeys {
  version: 1;
  wxpay: { privateKeyPem: string; apiV3Key: string; serialNo: string };
  alipay: { privateKeyPem: string };
  /** The demo API app's secret. */
  apiAppSecret: string;
  /** The signing secret of the development webhook receiver's endpoint. */
  webhookSecret: string;
}

const newPrivateKeyPem = () =>
  generateKeyPairSync('rsa', { modulusLength: 2048 })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();

/** The keys kept in `folder`/demo.json, made and written there the first time; new ones without a folder. */
export function demoKeys(folder: string | null): DemoKeys {
  const path = folder ? join(folder, 'demo.json') : null;
  const saved = path ? (StateFile.read(path) as DemoKeys | undefined) : undefined;
  if (saved?.version === 1) return saved;
  const keys: DemoKeys = {
    version: 1,
    wxpay: {
      privateKeyPem: newPrivateKeyPem(),
      apiV3Key: randomBytes(16).toString('hex'),
      serialNo: randomBytes(20).toString('hex').toUpperCase(),
    },
    alipay: { privateKeyPem: newPrivateKeyPem() },
    apiAppSecret: randomBytes(24).toString('hex'),
    webhookSecret: formatWebhookSecret(randomBytes(32)),
  };
  if (path) new StateFile(path, () => keys).flush();
  return keys;
}

const publicKeyPem = (privateKeyPem: string) =>
  createPublicKey(privateKeyPem).export({ type: 'spki', format: 'pem' }).toString();

export async function demoWxpayMerchant(
  gateway: WxpayGateway,
  baseUrl: string,
  keys: DemoKeys,
): Promise<WxpayMerchantConfig> {
  const { privateKeyPem, apiV3Key, serialNo } = keys.wxpay;
  // Registering again (a restart) keeps the WeChat Pay public key the gateway made the first time.
  const credentials = await gateway.merchants.register({
    mchid: DEMO_MCH_ID,
    appid: DEMO_APP_ID,
    apiV3Key,
    merchantSerialNo: serialNo,
    merchantPublicKeyPem: publicKeyPem(privateKeyPem),
    keyMode: 'publicKey',
  });
  return {
    merchantId: DEMO_MERCHANT,
    mchId: DEMO_MCH_ID,
    appId: DEMO_APP_ID,
    serialNo,
    privateKey: privateKeyPem,
    apiV3Key,
    baseUrl,
    wechatpayPublicKey: { id: credentials.publicKeyId!, pem: credentials.publicKeyPem! },
  };
}

export async function demoAlipayApp(
  gateway: AlipayGateway,
  gatewayUrl: string,
  keys: DemoKeys,
): Promise<AlipayMerchantConfig> {
  const appPublicKey = publicKeyPem(keys.alipay.privateKeyPem);
  // An app the emulator kept with this key is the same app: registering again would give it a new
  // Alipay key for nothing.
  const kept = gateway.apps.find(DEMO_ALIPAY_APP_ID);
  const sameKey = kept?.appPublicKey.export({ type: 'spki', format: 'pem' }).toString() === appPublicKey;
  const credentials = sameKey
    ? gateway.apps.credentials(DEMO_ALIPAY_APP_ID)
    : await gateway.apps.register({ appId: DEMO_ALIPAY_APP_ID, keyMode: 'publicKey', appPublicKey });
  return {
    merchantId: DEMO_MERCHANT,
    appId: credentials.appId,
    privateKey: keys.alipay.privateKeyPem,
    alipayPublicKey: credentials.alipayPublicKey,
    sellerId: credentials.sellerId,
    baseUrl: gatewayUrl,
  };
}
