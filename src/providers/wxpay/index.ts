/**
 * The WeChat Pay APIv3 provider: one signed transport and verifier key store per merchant, and one
 * small mapping per operation behind the Provider interface.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { fetch as undiciFetch } from 'undici';
import { PayError } from '../../core/errors.ts';
import { merchantLookup } from '../merchant-lookup.ts';
import { guardedObserver } from '../network.ts';
import type { Provider } from '../provider.ts';
import { downloadPlatformCertificates } from './certificates.ts';
import { appIdFor, resolveMerchant, type WxpayMerchantConfig } from './config.ts';
import type { WxpayContext } from './context.ts';
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
  /** Downloads a merchant's platform certificates now (startup warm-up, admin action). */
  refreshCertificates(merchantId: string): Promise<void>;
}

export function createWxpayProvider(options: WxpayProviderOptions): WxpayProvider {
  const now = options.now ?? Date.now;
  const contexts = new Map<string, WxpayContext>();
  for (const config of options.merchants) {
    const merchant = resolveMerchant(config);
    if (contexts.has(merchant.merchantId)) {
      throw new PayError(40003, {
        field: 'merchantId',
        message: `wxpay merchant ${merchant.merchantId} is configured twice`,
      });
    }
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
    contexts.set(merchant.merchantId, { merchant, transport, keys, now });
  }

  const contextFor = merchantLookup('wxpay', contexts);

  return {
    name: 'wxpay',
    identity: (merchantId, scene) => {
      const { merchant } = contextFor(merchantId);
      return { mchId: merchant.mchId, appId: appIdFor(merchant, wxpayScene(scene)) };
    },
    createPayment: async (order) => createPayment(contextFor(order.merchantId), order),
    queryPayment: async (query) => queryPayment(contextFor(query.merchantId), query),
    closePayment: async (query) => closePayment(contextFor(query.merchantId), query),
    refund: async (request) => refund(contextFor(request.merchantId), request),
    queryRefund: async (query) => queryRefund(contextFor(query.merchantId), query),
    parseNotify: async (merchantId, headers, rawBody) =>
      parseNotify(contextFor(merchantId), headers, rawBody),
    ackNotify,
    applyAbnormalRefund: async (request) => applyAbnormalRefund(contextFor(request.merchantId), request),
    downloadTradeBill: async (merchantId, date) => downloadTradeBill(contextFor(merchantId), date),
    // WeChat Pay keeps trade bills for three months.
    billWindowDays: 90,
    merchantIds: () => [...contexts.keys()],
    refreshCertificates: async (merchantId) => contextFor(merchantId).keys.refresh(),
  };
}
