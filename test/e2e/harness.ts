/**
 * One VK-Pay service on a real socket, wired to the WeChat Pay and Alipay emulators on others: the
 * emulators call back the service's notify URLs exactly as the gateways would.
 */

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { PayError } from '../../src/core/errors.ts';
import { buildApp } from '../../src/http/app.ts';
import { type AlipayMerchantConfig, createAlipayProvider } from '../../src/providers/alipay/index.ts';
import {
  createWxpayProvider,
  type WxpayMerchantConfig,
  type WxpayServiceProviderConfig,
  type WxpaySubMerchantConfig,
} from '../../src/providers/wxpay/index.ts';
import { type RunningAlipaySandbox, startAlipaySandbox } from '../../src/sandbox/alipay/index.ts';
import { type RunningWxpaySandbox, startWxpaySandbox } from '../../src/sandbox/wxpay/index.ts';
import type { VkPay, VkPayOptions } from '../../src/vk-pay.ts';
import type { TestBackend } from '../support/backends.ts';

export const MERCHANT = 'shop1';
/** The merchant backend that calls the signed API in these tests. */
export const API_APP = { appId: 'app1', merchantId: MERCHANT, secret: 'x'.repeat(40) };

export type Control = (
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
) => Promise<{ status: number; json: any }>;

export interface WxpayHarness {
  vkPay: VkPay;
  app: FastifyInstance;
  emulator: RunningWxpaySandbox;
  /** The WeChat Pay merchant on the emulator. */
  mchId: string;
  appId: string;
  /** The WeChat Pay emulator's control API (/sandbox/...). */
  control: Control;
  /** Further WeChat Pay merchants on the same emulator, configured as accounts of MERCHANT. */
  accounts: Record<string, { mchId: string; appId: string }>;
  /** WeChat Pay partner mode, when asked for: one service provider and its sub-merchants. */
  partner: {
    spMchId: string;
    spAppId: string;
    /** Each sub-merchant's sub_mchid, by its merchant id of ours. */
    subMchIds: Record<string, string>;
    /** The merchant API app of each sub-merchant. */
    apps: Record<string, { appId: string; merchantId: string; secret: string }>;
  } | null;
  alipay: {
    emulator: RunningAlipaySandbox;
    appId: string;
    sellerId: string;
    control: Control;
    /** Further Alipay apps on the same emulator, configured as accounts of MERCHANT. */
    accounts: Record<string, { appId: string; sellerId: string }>;
  };
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
      // Pages answer HTML; keep the text.
    }
    return { status: response.status, json };
  };
}

export async function startWxpayHarness(
  backend: TestBackend,
  options: {
    keyMode?: 'publicKey' | 'certificate' | 'both';
    alipayKeyMode?: 'publicKey' | 'certificate';
    vkPay?: VkPayOptions;
    timeoutMs?: number;
    /** Ids of further WeChat Pay accounts of MERCHANT, each a merchant of its own on the emulator. */
    wxpayAccounts?: string[];
    /** Ids of further Alipay accounts of MERCHANT, each an app of its own on the emulator. */
    alipayAccounts?: string[];
    /** Merchants of ours that are sub-merchants of one WeChat Pay service provider (partner mode). */
    partnerMerchants?: string[];
  } = {},
): Promise<WxpayHarness> {
  const emulator = await startWxpaySandbox({ timeFactor: 0.001 });
  const keyMode = options.keyMode ?? 'publicKey';
  const control: WxpayHarness['control'] = async (method, path, body) => {
    const response = await fetch(`${emulator.url}/sandbox${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : null };
  };
  const accounts: WxpayHarness['accounts'] = {};
  /** Registers one WeChat Pay merchant on the emulator and returns its configuration as MERCHANT's account. */
  const wxpayAccount = async (account: string, appId: string): Promise<WxpayMerchantConfig> => {
    const mchId = `19${randomBytes(4).readUInt32BE(0).toString().padStart(8, '0')}`;
    const apiV3Key = randomBytes(16).toString('hex');
    const serialNo = randomBytes(20).toString('hex').toUpperCase();
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const registered = await control('POST', '/merchants', {
      mchid: mchId,
      appid: appId,
      apiV3Key,
      merchantSerialNo: serialNo,
      merchantPublicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }),
      keyMode,
    });
    if (registered.status !== 200)
      throw new Error(`emulator refused the merchant: ${JSON.stringify(registered.json)}`);
    const credentials = registered.json;
    accounts[account] = { mchId, appId };
    return {
      merchantId: MERCHANT,
      ...(account === 'default' ? {} : { account }),
      mchId,
      appId,
      serialNo,
      privateKey,
      apiV3Key,
      baseUrl: emulator.url,
      timeoutMs: options.timeoutMs ?? 2_000,
      retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
      ...(credentials.publicKeyId
        ? { wechatpayPublicKey: { id: credentials.publicKeyId, pem: credentials.publicKeyPem } }
        : {}),
      ...(keyMode !== 'publicKey' ? { platformCertificates: { download: true } } : {}),
    };
  };
  /** A service provider on the emulator with each merchant id as one of its sub-merchants. */
  const partnerWorld = async (merchantIds: string[]) => {
    const sp = await wxpayAccount('service-provider', 'wx5555555555555555');
    delete accounts['service-provider'];
    const { merchantId: _m, account: _a, mchId: spMchId, appId: spAppId, appIds: _i, ...keys } = sp;
    const subMchIds: Record<string, string> = {};
    const apps: Record<string, { appId: string; merchantId: string; secret: string }> = {};
    const subMerchants: WxpaySubMerchantConfig[] = [];
    for (const [i, merchantId] of merchantIds.entries()) {
      const subMchId = `18${spMchId.slice(2, 8)}${String(i + 10)}`;
      const registered = await control('POST', '/sub-merchants', { spMchid: spMchId, subMchid: subMchId });
      if (registered.status !== 200)
        throw new Error(`emulator refused the sub-merchant: ${JSON.stringify(registered.json)}`);
      subMchIds[merchantId] = subMchId;
      apps[merchantId] = { appId: `app-${merchantId}`, merchantId, secret: randomBytes(24).toString('hex') };
      subMerchants.push({ merchantId, serviceProvider: 'sp', subMchId });
    }
    return {
      serviceProvider: { ...keys, id: 'sp', spMchId, spAppId } satisfies WxpayServiceProviderConfig,
      merchants: subMerchants,
      world: { spMchId, spAppId, subMchIds, apps },
    };
  };
  const appId = 'wx8888888888888888';
  const merchants = [await wxpayAccount('default', appId)];
  for (const [i, account] of (options.wxpayAccounts ?? []).entries())
    merchants.push(await wxpayAccount(account, `wx77777777777777${String(i).padStart(2, '0')}`));
  const mchId = accounts.default!.mchId;
  const partner = options.partnerMerchants ? await partnerWorld(options.partnerMerchants) : null;
  const provider = createWxpayProvider({
    merchants: [...merchants, ...(partner?.merchants ?? [])],
    serviceProviders: partner ? [partner.serviceProvider] : [],
  });
  const alipayEmulator = await startAlipaySandbox({ timeFactor: 0.001 });
  const alipayControl = controlOf(alipayEmulator.controlUrl);
  const alipayKeyMode = options.alipayKeyMode ?? 'publicKey';
  const alipayAccounts: WxpayHarness['alipay']['accounts'] = {};
  /** Registers one Alipay app on the emulator and returns its configuration as MERCHANT's account. */
  const alipayAccount = async (account: string): Promise<AlipayMerchantConfig> => {
    const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const app = await alipayControl('POST', '/apps', {
      keyMode: alipayKeyMode,
      appPublicKey: keys.publicKey.export({ type: 'spki', format: 'pem' }),
    });
    if (app.status !== 200) throw new Error(`alipay emulator refused the app: ${JSON.stringify(app.json)}`);
    alipayAccounts[account] = { appId: app.json.appId, sellerId: app.json.sellerId };
    return {
      merchantId: MERCHANT,
      ...(account === 'default' ? {} : { account }),
      appId: app.json.appId,
      privateKey: keys.privateKey,
      ...(alipayKeyMode === 'certificate'
        ? {
            certificates: {
              appCert: app.json.appCert,
              alipayCert: app.json.alipayCert,
              alipayRootCert: app.json.alipayRootCert,
            },
          }
        : { alipayPublicKey: app.json.alipayPublicKey }),
      sellerId: app.json.sellerId,
      baseUrl: alipayEmulator.gatewayUrl,
      timeoutMs: options.timeoutMs ?? 2_000,
      retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
    };
  };
  const alipayMerchants = [await alipayAccount('default')];
  for (const account of options.alipayAccounts ?? []) alipayMerchants.push(await alipayAccount(account));
  const alipayProvider = createAlipayProvider({ merchants: alipayMerchants });
  const vkPay = await backend.open({ providers: [provider, alipayProvider], ...options.vkPay });
  const app = await buildApp({
    vkPay,
    apps: [API_APP, ...Object.values(partner?.world.apps ?? {})],
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  // The requests the app is still answering: a close that hangs names them.
  const inFlight = new Set<{ method?: string; url?: string }>();
  app.server.on('request', (request, response) => {
    inFlight.add(request);
    response.on('close', () => inFlight.delete(request));
  });
  const address = app.server.address();
  vkPay.context.publicUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return {
    vkPay,
    app,
    emulator,
    mchId,
    appId,
    control,
    accounts,
    partner: partner?.world ?? null,
    alipay: {
      emulator: alipayEmulator,
      appId: alipayAccounts.default!.appId,
      sellerId: alipayAccounts.default!.sellerId,
      control: alipayControl,
      accounts: alipayAccounts,
    },
    async close() {
      // Each step is timed: a close that hangs says which part held it (a slow one is reported).
      for (const [name, step] of [
        ['wxpay emulator', () => emulator.close()],
        ['alipay emulator', () => alipayEmulator.close()],
        [
          'HTTP app',
          async () => {
            // Like the service's own shutdown: a connection still open after 2 s is cut, so a
            // socket left half-used by a test cannot hold the close (it is reported).
            const force = setTimeout(() => {
              app.server.getConnections((_, count) => {
                if (count > 0)
                  console.warn(`harness close: cutting ${count} connection(s) still open after 2 s`);
              });
              app.server.closeAllConnections();
            }, 2_000);
            try {
              await app.close();
            } finally {
              clearTimeout(force);
            }
          },
        ],
        ['vkPay', () => vkPay.close()],
      ] as const) {
        const started = Date.now();
        const slow = setTimeout(
          () =>
            console.warn(
              `harness close: ${name} still closing after 10 s; the app is answering: ${
                [...inFlight].map((r) => `${r.method} ${r.url}`).join(', ') || 'nothing'
              }`,
            ),
          10_000,
        );
        try {
          await step();
        } finally {
          clearTimeout(slow);
          if (Date.now() - started > 10_000)
            console.warn(`harness close: ${name} took ${Date.now() - started} ms`);
        }
      }
    },
  };
}

/** Polls until `check` is truthy or the time is up; returns the last value. */
/** Order numbers unique across runs: PREFIX, the time in base 36, and a counter. */
export function tradeNumbers(prefix: string): () => string {
  let sequence = 0;
  return () => `${prefix}${Date.now().toString(36)}${(sequence++).toString().padStart(4, '0')}`;
}

/** The unified code a call failed with: 0 when it succeeded, -1 for anything but a PayError. */
export const codeOf = (promise: Promise<unknown>): Promise<number> =>
  promise.then(
    () => 0,
    (error: unknown) => (error instanceof PayError ? error.code : -1),
  );

export async function eventually<T>(
  read: () => Promise<T>,
  check: (value: T) => boolean,
  timeoutMs = 5_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!check(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    value = await read();
  }
  return value;
}

/**
 * A native order of `totalFen` created through the library, paid at the emulator (Alipay: scanned
 * first), and SUCCESS here by its callback. Returns its out_trade_no.
 */
export async function paidOrder(
  h: WxpayHarness,
  outTradeNo: string,
  totalFen: number,
  options: { provider?: 'wxpay' | 'alipay'; subject?: string } = {},
): Promise<string> {
  const provider = options.provider ?? 'wxpay';
  await h.vkPay.pay({
    merchantId: MERCHANT,
    provider,
    scene: 'native',
    out_trade_no: outTradeNo,
    total_fee: totalFen,
    subject: options.subject ?? 'paid order',
    type: 'goods',
  });
  if (provider === 'wxpay') await h.control('POST', `/trades/${h.mchId}/${outTradeNo}/pay`);
  else {
    await h.alipay.control('POST', `/trades/${h.alipay.appId}/${outTradeNo}/scan`);
    await h.alipay.control('POST', `/trades/${h.alipay.appId}/${outTradeNo}/pay`);
  }
  const order = await eventually(
    () => h.vkPay.getOrder(MERCHANT, outTradeNo),
    (found) => found.status === 'SUCCESS',
  );
  if (order.status !== 'SUCCESS') throw new Error(`${outTradeNo} was not paid: ${order.status}`);
  return outTradeNo;
}
