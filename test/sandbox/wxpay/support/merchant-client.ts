/**
 * Test-side merchant: keys generated at test time and a minimal APIv3 signer written here from
 * the protocol text, so the emulator is checked against something other than itself.
 */
import {
  createDecipheriv,
  createHash,
  createPublicKey,
  createSign,
  createVerify,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import type { WxpayGateway } from '../../../../src/sandbox/wxpay/gateway.ts';
import { type WxpayGatewayOptions, wxpaySandboxPlugin } from '../../../../src/sandbox/wxpay/index.ts';
import type { KeyMode, MerchantCredentials } from '../../../../src/sandbox/wxpay/merchants.ts';

export interface TestMerchant {
  mchid: string;
  appid: string;
  apiV3Key: string;
  serialNo: string;
  privateKey: KeyObject;
  publicKeyPem: string;
  credentials: MerchantCredentials;
}

export interface WireResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary gateway JSON and assert on it.
  json: () => Record<string, any>;
}

export interface SandboxUnderTest {
  app: FastifyInstance;
  gateway: WxpayGateway;
}

export async function buildSandbox(options: WxpayGatewayOptions = {}): Promise<SandboxUnderTest> {
  const app = Fastify();
  const plugin = wxpaySandboxPlugin({ timeFactor: 0.001, ...options });
  await app.register(plugin);
  await app.ready();
  return { app, gateway: plugin.gateway };
}

let merchantCounter = 0;

export async function registerMerchant(
  app: FastifyInstance,
  keyMode: KeyMode = 'publicKey',
  extra: Record<string, unknown> = {},
): Promise<TestMerchant> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  merchantCounter += 1;
  const merchant = {
    mchid: `19000${String(merchantCounter).padStart(5, '0')}`,
    appid: 'wx8888888888888888',
    apiV3Key: randomBytes(16).toString('hex'),
    serialNo: randomBytes(20).toString('hex').toUpperCase(),
    privateKey,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
  const response = await app.inject({
    method: 'POST',
    url: '/sandbox/merchants',
    payload: {
      mchid: merchant.mchid,
      appid: merchant.appid,
      apiV3Key: merchant.apiV3Key,
      merchantSerialNo: merchant.serialNo,
      merchantPublicKeyPem: merchant.publicKeyPem,
      keyMode,
      ...extra,
    },
  });
  if (response.statusCode !== 200) throw new Error(`register failed: ${response.body}`);
  return { ...merchant, credentials: response.json() as MerchantCredentials };
}

export interface SignOptions {
  timestamp?: number;
  nonce?: string;
  /** Sign this instead of the body that is sent, to produce a mismatch. */
  signedBody?: string;
  serialNo?: string;
  headers?: Record<string, string>;
}

export function authorizationHeader(
  merchant: TestMerchant,
  method: string,
  pathWithQuery: string,
  body: string,
  options: SignOptions = {},
): string {
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const nonce = options.nonce ?? randomBytes(16).toString('hex').toUpperCase();
  const message = `${method}\n${pathWithQuery}\n${timestamp}\n${nonce}\n${options.signedBody ?? body}\n`;
  const signature = createSign('RSA-SHA256').update(message).sign(merchant.privateKey, 'base64');
  return (
    `WECHATPAY2-SHA256-RSA2048 mchid="${merchant.mchid}",nonce_str="${nonce}",` +
    `signature="${signature}",timestamp="${timestamp}",serial_no="${options.serialNo ?? merchant.serialNo}"`
  );
}

/** Sends a signed APIv3 request through Fastify's inject (no socket). */
export async function signedCall(
  app: FastifyInstance,
  merchant: TestMerchant,
  method: 'GET' | 'POST',
  pathWithQuery: string,
  payload?: Record<string, unknown>,
  options: SignOptions = {},
): Promise<WireResponse> {
  const body = payload === undefined ? '' : JSON.stringify(payload);
  const response = await app.inject({
    method,
    url: pathWithQuery,
    headers: {
      accept: 'application/json',
      ...(body ? { 'content-type': 'application/json' } : {}),
      authorization: authorizationHeader(merchant, method, pathWithQuery, body, options),
      ...options.headers,
    },
    ...(body ? { payload: body } : {}),
  });
  const headers = Object.fromEntries(Object.entries(response.headers).map(([k, v]) => [k, String(v)]));
  return { status: response.statusCode, headers, body: response.body, json: () => JSON.parse(response.body) };
}

/** The gateway key a merchant trusts for a Wechatpay-Serial, from its registration. */
export function gatewayKeyFor(merchant: TestMerchant, serial: string): KeyObject | undefined {
  if (serial === merchant.credentials.publicKeyId) return createPublicKey(merchant.credentials.publicKeyPem!);
  const certificate = merchant.credentials.platformCertificates?.find((item) => item.serialNo === serial);
  return certificate ? createPublicKey(certificate.certificatePem) : undefined;
}

/** Verifies Wechatpay-* headers over a raw body the way a careful client does. */
export function verifyGatewaySignature(
  merchant: TestMerchant,
  headers: Record<string, string>,
  body: string,
): boolean {
  const key = gatewayKeyFor(merchant, headers['wechatpay-serial'] ?? '');
  const signature = headers['wechatpay-signature'] ?? '';
  if (!key || signature.startsWith('WECHATPAY/SIGNTEST/')) return false;
  const timestamp = Number(headers['wechatpay-timestamp']);
  if (Math.abs(Date.now() / 1000 - timestamp) > 300) return false;
  const message = `${headers['wechatpay-timestamp']}\n${headers['wechatpay-nonce']}\n${body}\n`;
  return createVerify('RSA-SHA256').update(message).verify(key, signature, 'base64');
}

export function decryptResource(
  apiV3Key: string,
  resource: { ciphertext: string; nonce: string; associated_data: string },
): string {
  const bytes = Buffer.from(resource.ciphertext, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', Buffer.from(apiV3Key), Buffer.from(resource.nonce));
  decipher.setAAD(Buffer.from(resource.associated_data));
  decipher.setAuthTag(bytes.subarray(bytes.length - 16));
  return Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - 16)), decipher.final()]).toString();
}

let orderCounter = 0;

export function nativeOrder(
  merchant: TestMerchant,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  orderCounter += 1;
  return {
    appid: merchant.appid,
    mchid: merchant.mchid,
    description: 'Image形象店-深圳腾大-QQ公仔',
    out_trade_no: `T${Date.now()}${orderCounter}`,
    notify_url: 'https://merchant.example/notify',
    amount: { total: 100, currency: 'CNY' },
    ...overrides,
  };
}

/** A reproducible RandomSource (SHA-256 in counter mode) so that random draws are the same every run. */
export function seededRandom(seed: string): (size: number) => Buffer {
  let counter = 0;
  return (size) => {
    const chunks: Buffer[] = [];
    let length = 0;
    while (length < size) {
      const chunk = createHash('sha256').update(`${seed}:${counter++}`).digest();
      chunks.push(chunk);
      length += chunk.length;
    }
    return Buffer.concat(chunks).subarray(0, size);
  };
}
