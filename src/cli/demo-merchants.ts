/**
 * The first run: with no gateway merchants configured and the sandbox on, VK-Pay makes a demo
 * merchant with generated test keys, registers it with the mounted emulators, and points the
 * providers at them. The keys and secrets are kept in the sandbox folder of the data folder
 * (demo.json, beside the emulators' state), so a restart keeps the same merchant; with the data in
 * memory, every start gets new ones.
 */
import { createPublicKey, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { formatWebhookSecret } from '../core/webhooks.ts';
import type { AlipayMerchantConfig } from '../providers/alipay/index.ts';
import type { AppleIapMerchantConfig } from '../providers/appleiap/config.ts';
import type { DouyinMerchantConfig } from '../providers/douyin/config.ts';
import type { WxpayMerchantConfig } from '../providers/wxpay/config.ts';
import type { WxpayVirtualMerchantConfig } from '../providers/wxpay-virtual/config.ts';
import type { AlipayGateway } from '../sandbox/alipay/index.ts';
import type { AppleGateway } from '../sandbox/appleiap/index.ts';
import type { DouyinGateway } from '../sandbox/douyin/index.ts';
import { StateFile } from '../sandbox/shared/state-file.ts';
import type { WxpayGateway } from '../sandbox/wxpay/index.ts';
import type { WxVirtualGateway } from '../sandbox/wxpay-virtual/index.ts';

export const DEMO_MERCHANT = 'demo';
export const DEMO_ALIPAY_APP_ID = '2021000000000001';
const DEMO_MCH_ID = '1900000109';
const DEMO_APP_ID = 'wxd678efh567hg6787';
export const DEMO_APPLE_BUNDLE_ID = 'com.example.vkpay.demo';
export const DEMO_DOUYIN_APP_ID = 'tt0000000000demo01';
export const DEMO_VIRTUAL_APP_ID = 'wx0000000000de0001';
/** What the demo apps sell: an App Store product and a virtual payment product, 6 yuan each. */
export const DEMO_PRODUCT_ID = 'coins_60';
const DEMO_PRODUCT_FEN = 600;

/** The demo merchant's test keys and secrets (generated here, never real ones). */
export interface DemoKeys {
  version: 1;
  wxpay: { privateKeyPem: string; apiV3Key: string; serialNo: string };
  alipay: { privateKeyPem: string };
  /** The App Store in-app purchase key (EC P-256) with its ids, and the app-specific shared secret. */
  appleiap: { privateKeyPem: string; issuerId: string; keyId: string; sharedSecret: string };
  /** The Douyin mini app's RSA key, whose public half is uploaded to the platform. */
  douyin: { privateKeyPem: string };
  /** The WeChat mini program's secrets on the virtual payment emulator. */
  wxpayVirtual: {
    appSecret: string;
    originalId: string;
    offerId: string;
    appKey: string;
    sandboxAppKey: string;
    pushToken: string;
    encodingAesKey: string;
  };
  /** The demo API app's secret. */
  apiAppSecret: string;
  /** The signing secret of the development webhook receiver's endpoint. */
  webhookSecret: string;
}

const newPrivateKeyPem = () =>
  generateKeyPairSync('rsa', { modulusLength: 2048 })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();

const newGatewayKeys = (): Pick<DemoKeys, 'appleiap' | 'douyin' | 'wxpayVirtual'> => ({
  appleiap: {
    privateKeyPem: generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString(),
    issuerId: randomUUID(),
    keyId: randomBytes(5).toString('hex').toUpperCase(),
    sharedSecret: randomBytes(16).toString('hex'),
  },
  douyin: { privateKeyPem: newPrivateKeyPem() },
  wxpayVirtual: {
    appSecret: randomBytes(16).toString('hex'),
    originalId: `gh_${randomBytes(6).toString('hex')}`,
    offerId: String(1_000_000_000 + (randomBytes(4).readUInt32BE() % 9_000_000_000)),
    appKey: randomBytes(24).toString('base64url'),
    sandboxAppKey: randomBytes(24).toString('base64url'),
    pushToken: randomBytes(12).toString('hex'),
    encodingAesKey: randomBytes(32).toString('base64').slice(0, 43),
  },
});

/**
 * The keys kept in `folder`/demo.json, made and written there the first time; new ones without a
 * folder. A file from before the App Store, Douyin and virtual payment demo apps gets their keys
 * added, the others kept.
 */
export function demoKeys(folder: string | null): DemoKeys {
  const path = folder ? join(folder, 'demo.json') : null;
  const saved = path ? (StateFile.read(path) as Partial<DemoKeys> | undefined) : undefined;
  let keys: DemoKeys;
  if (saved?.version === 1) {
    if (saved.appleiap && saved.douyin && saved.wxpayVirtual) return saved as DemoKeys;
    const added = newGatewayKeys();
    keys = {
      ...(saved as DemoKeys),
      appleiap: saved.appleiap ?? added.appleiap,
      douyin: saved.douyin ?? added.douyin,
      wxpayVirtual: saved.wxpayVirtual ?? added.wxpayVirtual,
    };
  } else {
    keys = {
      version: 1,
      wxpay: {
        privateKeyPem: newPrivateKeyPem(),
        apiV3Key: randomBytes(16).toString('hex'),
        serialNo: randomBytes(20).toString('hex').toUpperCase(),
      },
      alipay: { privateKeyPem: newPrivateKeyPem() },
      ...newGatewayKeys(),
      apiAppSecret: randomBytes(24).toString('hex'),
      webhookSecret: formatWebhookSecret(randomBytes(32)),
    };
  }
  if (path) new StateFile(path, () => keys).flush();
  return keys;
}

const publicKeyPem = (privateKeyPem: string) =>
  createPublicKey(privateKeyPem).export({ type: 'spki', format: 'pem' }).toString();

export async function demoWxpayMerchant(
  gateway: WxpayGateway,
  baseUrl: string,
  keys: DemoKeys,
  publicUrl?: string,
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
    // What a merchant sets on WeChat Pay's merchant platform: where split results are sent.
    ...(publicUrl
      ? {
          profitSharingNotifyUrl: `${publicUrl.replace(/\/+$/, '')}/notify-profit-sharing/wxpay/${DEMO_MERCHANT}`,
        }
      : {}),
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

/**
 * The demo app on the App Store emulator: its in-app purchase key, a consumable product, the
 * emulator's test root trusted for signed data, and purchase notifications sent to `notifyUrl`.
 */
export function demoAppleApp(
  gateway: AppleGateway,
  urls: { serverApi: string; sandboxServerApi: string; notifyUrl: string },
  keys: DemoKeys,
): AppleIapMerchantConfig {
  const { privateKeyPem, issuerId, keyId, sharedSecret } = keys.appleiap;
  gateway.registerApp({
    bundleId: DEMO_APPLE_BUNDLE_ID,
    products: [{ productId: DEMO_PRODUCT_ID, type: 'Consumable', price: 6000, currency: 'CNY' }],
    publicKeyPem: publicKeyPem(privateKeyPem),
    issuerId,
    keyId,
    sharedSecret,
    sandboxNotificationUrl: urls.notifyUrl,
  });
  return {
    merchantId: DEMO_MERCHANT,
    bundleId: DEMO_APPLE_BUNDLE_ID,
    issuerId,
    keyId,
    privateKey: privateKeyPem,
    environment: 'Sandbox',
    rootCertificates: [gateway.ca.rootPem],
    products: { [DEMO_PRODUCT_ID]: { totalFen: DEMO_PRODUCT_FEN, type: 'goods' } },
    baseUrl: urls.serverApi,
    sandboxBaseUrl: urls.sandboxServerApi,
    sharedSecret,
    receiptBaseUrl: urls.serverApi,
    sandboxReceiptBaseUrl: urls.sandboxServerApi,
  };
}

/** The demo mini app on the Douyin emulator, paying through the general trade system. */
export function demoDouyinApp(gateway: DouyinGateway, baseUrl: string, keys: DemoKeys): DouyinMerchantConfig {
  const registered = gateway.registerApp({
    appId: DEMO_DOUYIN_APP_ID,
    appPublicKeyPem: publicKeyPem(keys.douyin.privateKeyPem),
    keyVersion: '1',
  });
  return {
    merchantId: DEMO_MERCHANT,
    appId: registered.appId,
    appSecret: registered.appSecret,
    privateKey: keys.douyin.privateKeyPem,
    keyVersion: registered.keyVersion,
    platformPublicKey: registered.platformPublicKeyPem,
    sku: { type: 401, tagGroupId: 'tag_group_demo', imageUrl: 'https://example.com/demo-sku.png' },
    baseUrl,
  };
}

/**
 * The demo mini program on the virtual payment emulator, paying in its sandbox env, its message
 * pushes sent to `pushUrl`.
 */
export function demoVirtualAccount(
  gateway: WxVirtualGateway,
  urls: { baseUrl: string; pushUrl: string },
  keys: DemoKeys,
): WxpayVirtualMerchantConfig {
  const { appKey, sandboxAppKey, ...secrets } = keys.wxpayVirtual;
  const products = { [DEMO_PRODUCT_ID]: DEMO_PRODUCT_FEN };
  gateway.register({
    pushUrl: urls.pushUrl,
    pushMode: 'aes',
    products,
    coinPriceFen: 10,
    kept: { appId: DEMO_VIRTUAL_APP_ID, appKeys: { 0: appKey, 1: sandboxAppKey }, ...secrets },
  });
  return {
    merchantId: DEMO_MERCHANT,
    appId: DEMO_VIRTUAL_APP_ID,
    appKey,
    sandboxAppKey,
    env: 1,
    ...secrets,
    products,
    coinPriceFen: 10,
    baseUrl: urls.baseUrl,
  };
}
