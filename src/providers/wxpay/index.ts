/**
 * The WeChat Pay APIv3 provider: one signed transport and verifier key store per merchant, and one
 * small mapping per operation behind the Provider interface.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { fetch as undiciFetch } from 'undici';
import { AccountContexts, accountOf } from '../merchant-lookup.ts';
import { guardedObserver } from '../network.ts';
import type { Provider } from '../provider.ts';
import { downloadPlatformCertificates } from './certificates.ts';
import { appIdFor, resolveMerchant, type WxpayMerchantConfig } from './config.ts';
import type { WxpayContext } from './context.ts';
import { wxpayAccountFacts } from './facts.ts';
import { parsePlatformCertificate, VerifierKeyStore } from './keys.ts';
import { ackNotify, parseNotify } from './notify.ts';
import { applyAbnormalRefund } from './operations/abnormal-refund.ts';
import { downloadTradeBill } from './operations/bill.ts';
import { closePayment } from './operations/close.ts';
import { createPayment, wxpayScene } from './operations/prepay.ts';
import { queryPayment } from './operations/query.ts';
import { refund } from './operations/refund.ts';
import { queryRefund } from './operations/refund-query.ts';
import { type FetchLike, type WxpayRequestEvent, WxpayTransport } from './transport.ts';

export type { WxpayMerchantConfig, WxpayScene } from './config.ts';
export type { FetchLike, WxpayRequestEvent } from './transport.ts';

export interface WxpayProviderOptions {
  merchants: WxpayMerchantConfig[];
  /** Replaces the HTTP client (tests, proxies); defaults to undici's fetch. */
  fetch?: FetchLike;
  /** An undici Dispatcher (Agent, ProxyAgent, MockAgent) for the default fetch. */
  dispatcher?: unknown;
  /** Clock in milliseconds, for signatures, freshness checks and certificate refresh. */
  now?: () => number;
  /** Backoff sleep; tests pass a fast one. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Called once per HTTP attempt (payment_logs, metrics); never receives bodies or secrets. */
  onRequest?: (event: WxpayRequestEvent) => void;
  userAgent?: string;
  /** Least time between certificate downloads caused by an unknown Wechatpay-Serial. */
  unknownSerialCooldownMs?: number;
}

export interface WxpayProvider extends Provider {
  readonly name: 'wxpay';
  /** Downloads a merchant account's platform certificates now (startup warm-up, admin action). */
  refreshCertificates(merchantId: string, account?: string): Promise<void>;
}

export function createWxpayProvider(options: WxpayProviderOptions): WxpayProvider {
  const now = options.now ?? Date.now;
  const contexts = new AccountContexts<WxpayContext>('wxpay');
  for (const config of options.merchants) {
    const merchant = resolveMerchant(config);
    const account = accountOf('wxpay', merchant.merchantId, config.account);
    const transport = new WxpayTransport({
      merchant,
      // Assigned below: the key store and the transport need each other (downloads are signed requests).
      keys: { keyFor: (serial) => keys.keyFor(serial), preferredSerial: () => keys.preferredSerial() },
      fetch: options.fetch ?? (undiciFetch as unknown as FetchLike),
      dispatcher: options.dispatcher,
      now,
      sleep: options.sleep ?? ((ms) => delay(ms)),
      random: options.random ?? Math.random,
      onRequest: guardedObserver(options.onRequest),
      userAgent: options.userAgent ?? 'vk-pay/0.1 (wxpay; node)',
    });
    const keys: VerifierKeyStore = new VerifierKeyStore({
      merchantId: merchant.merchantId,
      publicKey: merchant.publicKey,
      certificates: merchant.certificatePems.map((pem) => parsePlatformCertificate(pem)),
      download: merchant.downloadCertificates
        ? () => downloadPlatformCertificates(transport, merchant, now)
        : null,
      now,
      refreshMs: merchant.certificateRefreshMs,
      ...(options.unknownSerialCooldownMs !== undefined
        ? { unknownSerialCooldownMs: options.unknownSerialCooldownMs }
        : {}),
    });
    contexts.add(merchant.merchantId, account, { merchant, transport, keys, now });
  }

  const contextFor = (merchantId: string, account?: string) => contexts.get(merchantId, account);

  return {
    name: 'wxpay',
    identity: (merchantId, scene, account) => {
      const { merchant } = contextFor(merchantId, account);
      return { mchId: merchant.mchId, appId: appIdFor(merchant, wxpayScene(scene)) };
    },
    createPayment: async (order) => createPayment(contextFor(order.merchantId, order.account), order),
    queryPayment: async (query) => queryPayment(contextFor(query.merchantId, query.account), query),
    closePayment: async (query) => closePayment(contextFor(query.merchantId, query.account), query),
    refund: async (request) => refund(contextFor(request.merchantId, request.account), request),
    queryRefund: async (query) => queryRefund(contextFor(query.merchantId, query.account), query),
    parseNotify: async (merchantId, headers, rawBody, account) =>
      parseNotify(contextFor(merchantId, account), headers, rawBody),
    ackNotify,
    applyAbnormalRefund: async (request) =>
      applyAbnormalRefund(contextFor(request.merchantId, request.account), request),
    downloadTradeBill: async (merchantId, date, account) =>
      downloadTradeBill(contextFor(merchantId, account), date),
    // WeChat Pay keeps trade bills for three months.
    billWindowDays: 90,
    merchantIds: () => contexts.merchantIds(),
    accounts: (merchantId) => contexts.accounts(merchantId),
    accountFacts: (merchantId) =>
      contexts
        .accounts(merchantId)
        .map((account) => wxpayAccountFacts(account, contextFor(merchantId, account))),
    refreshCertificates: async (merchantId, account) => contextFor(merchantId, account).keys.refresh(),
  };
}
