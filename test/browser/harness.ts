/**
 * The cashier's world on real sockets: VK-Pay (PGlite in memory) with a merchant on the WeChat Pay
 * emulator and on the Alipay emulator, each emulator calling back the service's notify URLs.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildApp } from '../../src/http/app.ts';
import { createAlipayProvider } from '../../src/providers/alipay/index.ts';
import { createWxpayProvider } from '../../src/providers/wxpay/index.ts';
import { type RunningAlipaySandbox, startAlipaySandbox } from '../../src/sandbox/alipay/index.ts';
import { type RunningWxpaySandbox, startWxpaySandbox } from '../../src/sandbox/wxpay/index.ts';
import { createVkPay, type VkPay } from '../../src/vk-pay.ts';
import { signed } from '../support/signed-client.ts';

export const MERCHANT = 'shop1';
const API_APP = { appId: 'app1', merchantId: MERCHANT, secret: 's'.repeat(40) };

type Control = (
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
) => Promise<{ status: number; json: any }>;

export interface CashierHarness {
  url: string;
  vkPay: VkPay;
  app: FastifyInstance;
  wxpay: { emulator: RunningWxpaySandbox; mchId: string; control: Control };
  alipay: { emulator: RunningAlipaySandbox; appId: string; control: Control };
  /** A signed merchant API call over the socket. */
  api(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: any }>;
  /** POST /api/checkouts with sensible defaults; returns data.checkout. */
  checkout(fields?: Record<string, unknown>): Promise<{ token: string; url: string; expires_at: string }>;
  close(): Promise<void>;
}

function controlOf(baseUrl: string): Control {
  return async (method, path, body) => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    const text = await response.text();
    let json: unknown = text;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      // an HTML page; keep the text
    }
    return { status: response.status, json };
  };
}

let sequence = 0;
export function outTradeNo(prefix = 'CK'): string {
  sequence += 1;
  return `${prefix}${Date.now()}${String(sequence).padStart(4, '0')}${randomBytes(2).toString('hex')}`;
}

export async function startCashierHarness(): Promise<CashierHarness> {
  const wxpayEmulator = await startWxpaySandbox({ timeFactor: 0.001 });
  const wxpayControl = controlOf(`${wxpayEmulator.url}/sandbox`);
  const mchId = `19${randomBytes(4).readUInt32BE(0).toString().padStart(8, '0')}`;
  const wxKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const apiV3Key = randomBytes(16).toString('hex');
  const serialNo = randomBytes(20).toString('hex').toUpperCase();
  const registered = await wxpayControl('POST', '/merchants', {
    mchid: mchId,
    appid: 'wx8888888888888888',
    apiV3Key,
    merchantSerialNo: serialNo,
    merchantPublicKeyPem: wxKeys.publicKey.export({ type: 'spki', format: 'pem' }),
    keyMode: 'publicKey',
  });
  if (registered.status !== 200) throw new Error(`wxpay emulator: ${JSON.stringify(registered.json)}`);

  const alipayEmulator = await startAlipaySandbox({ timeFactor: 0.001 });
  const alipayControl = controlOf(alipayEmulator.controlUrl);
  const aliKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const aliApp = await alipayControl('POST', '/apps', {
    keyMode: 'publicKey',
    appPublicKey: aliKeys.publicKey.export({ type: 'spki', format: 'pem' }),
  });
  if (aliApp.status !== 200) throw new Error(`alipay emulator: ${JSON.stringify(aliApp.json)}`);

  const retry = { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 20 };
  const vkPay = await createVkPay({
    dataDir: 'memory',
    logger: pino({ level: 'silent' }),
    providers: [
      createWxpayProvider({
        merchants: [
          {
            merchantId: MERCHANT,
            mchId,
            appId: 'wx8888888888888888',
            serialNo,
            privateKey: wxKeys.privateKey,
            apiV3Key,
            baseUrl: wxpayEmulator.url,
            timeoutMs: 2_000,
            retry,
            wechatpayPublicKey: { id: registered.json.publicKeyId, pem: registered.json.publicKeyPem },
          },
        ],
      }),
      createAlipayProvider({
        merchants: [
          {
            merchantId: MERCHANT,
            appId: aliApp.json.appId,
            privateKey: aliKeys.privateKey,
            alipayPublicKey: aliApp.json.alipayPublicKey,
            sellerId: aliApp.json.sellerId,
            baseUrl: alipayEmulator.gatewayUrl,
            timeoutMs: 2_000,
            retry,
          },
        ],
      }),
    ],
  });
  const app = await buildApp({ vkPay, apps: [API_APP] });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  vkPay.context.publicUrl = url;

  const api: CashierHarness['api'] = async (method, path, body) => {
    const request = signed(API_APP, method, path, body);
    const response = await fetch(`${url}${path}`, {
      method,
      headers: request.headers,
      ...(request.payload === undefined ? {} : { body: request.payload }),
    });
    return { status: response.status, json: await response.json() };
  };
  return {
    url,
    vkPay,
    app,
    wxpay: { emulator: wxpayEmulator, mchId, control: wxpayControl },
    alipay: { emulator: alipayEmulator, appId: aliApp.json.appId, control: alipayControl },
    api,
    async checkout(fields = {}) {
      const answer = await api('POST', '/api/checkouts', {
        out_trade_no: outTradeNo(),
        total_fee: 1,
        subject: 'VIP 会员 1 个月',
        type: 'goods',
        ...fields,
      });
      if (answer.json.code !== 0) throw new Error(`checkout refused: ${JSON.stringify(answer.json)}`);
      return answer.json.data.checkout;
    },
    async close() {
      await app.close();
      await wxpayEmulator.close();
      await alipayEmulator.close();
      await vkPay.close();
    },
  };
}
