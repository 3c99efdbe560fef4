/**
 * The two gateway emulators as `vk-pay sandbox` in their own process, and the merchants the
 * benchmarks register on them through the control API (as test/e2e/harness.ts does in-process).
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { type Child, startChild } from './children.ts';

export interface Emulators {
  child: Child<{ wxpay: string; alipay: string }>;
  /** WeChat Pay emulator base URL (the provider's baseUrl). */
  wxpayUrl: string;
  /** Alipay gateway.do URL. */
  alipayGatewayUrl: string;
  /** Alipay control API base. */
  alipayControlUrl: string;
}

export async function startEmulators(): Promise<Emulators> {
  const child = await startChild<{ wxpay: string; alipay: string }>({
    args: ['bin/vk-pay.mjs', 'sandbox'],
    readyMsg: 'VK-Pay sandbox ready',
    env: {
      VKPAY_HOST: '127.0.0.1',
      VKPAY_SANDBOX_WXPAY_PORT: '0',
      VKPAY_SANDBOX_ALIPAY_PORT: '0',
      // Nothing here pays late or refunds; real-time retries keep the emulator's timers quiet.
      VKPAY_SANDBOX_TIME_FACTOR: '1',
    },
  });
  return {
    child,
    wxpayUrl: child.ready.wxpay,
    alipayGatewayUrl: child.ready.alipay,
    alipayControlUrl: child.ready.alipay.replace(/\/gateway\.do$/, '/sandbox/alipay'),
  };
}

export async function postJson<T>(url: string, body: unknown): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`POST ${url} answered ${response.status}: ${text.slice(0, 300)}`);
  return (text ? JSON.parse(text) : null) as T;
}

/** A WeChat Pay merchant registered on the emulator in public-key mode: everything a provider needs. */
export interface BenchWxpayMerchant {
  mchId: string;
  appId: string;
  apiV3Key: string;
  serialNo: string;
  privateKeyPem: string;
  wechatpayPublicKey: { id: string; pem: string };
}

/** A fresh mchid, APIv3 key, merchant serial and key pair (not yet registered anywhere). */
export function newWxpayMerchantKeys(): Omit<BenchWxpayMerchant, 'wechatpayPublicKey'> & {
  publicKeyPem: string;
} {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    mchId: `19${randomBytes(4).readUInt32BE(0).toString().padStart(8, '0').slice(0, 8)}`,
    appId: 'wx8888888888888888',
    apiV3Key: randomBytes(16).toString('hex'),
    serialNo: randomBytes(20).toString('hex').toUpperCase(),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export async function registerWxpayMerchant(wxpayUrl: string): Promise<BenchWxpayMerchant> {
  const keys = newWxpayMerchantKeys();
  const registered = await postJson<{ publicKeyId: string; publicKeyPem: string }>(
    `${wxpayUrl}/sandbox/merchants`,
    {
      mchid: keys.mchId,
      appid: keys.appId,
      apiV3Key: keys.apiV3Key,
      merchantSerialNo: keys.serialNo,
      merchantPublicKeyPem: keys.publicKeyPem,
      keyMode: 'publicKey',
    },
  );
  const { publicKeyPem: _merchantPublicKey, ...merchant } = keys;
  return { ...merchant, wechatpayPublicKey: { id: registered.publicKeyId, pem: registered.publicKeyPem } };
}

/** An Alipay app registered on the emulator in public-key mode. */
export interface BenchAlipayApp {
  appId: string;
  sellerId: string;
  /** PKCS#1 PEM: what alipay-sdk reads by default, and our provider reads too. */
  privateKeyPem: string;
  alipayPublicKeyPem: string;
  alipayPublicKeyBase64: string;
}

export async function registerAlipayApp(controlUrl: string): Promise<BenchAlipayApp> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const registered = await postJson<{
    appId: string;
    sellerId: string;
    alipayPublicKey: string;
    alipayPublicKeyBase64: string;
  }>(`${controlUrl}/apps`, {
    keyMode: 'publicKey',
    appPublicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  });
  return {
    appId: registered.appId,
    sellerId: registered.sellerId,
    privateKeyPem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    alipayPublicKeyPem: registered.alipayPublicKey,
    alipayPublicKeyBase64: registered.alipayPublicKeyBase64,
  };
}
