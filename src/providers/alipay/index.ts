/**
 * The Alipay OpenAPI (gateway.do) provider: one signed transport per merchant, and one small
 * mapping per operation behind the Provider interface.
 */

import { setTimeout as delay } from 'node:timers/promises';
import { fetch as undiciFetch } from 'undici';
import { PayError } from '../../core/errors.ts';
import type { Scene } from '../../core/validate.ts';
import { merchantLookup } from '../merchant-lookup.ts';
import { guardedObserver } from '../network.ts';
import type { GatewayIdentity, Provider } from '../provider.ts';
import { type AlipayMerchantConfig, resolveMerchant } from './config.ts';
import type { AlipayContext } from './context.ts';
import { type AlipayReturn, ackNotify, parseNotify, type ReturnQuery, verifyReturn } from './notify.ts';
import { downloadAlipayTradeBill } from './operations/bill.ts';
import { type CancelResult, cancelPayment } from './operations/cancel.ts';
import { closePayment } from './operations/close.ts';
import { createPayment, sceneMethod } from './operations/pay.ts';
import { queryPayment } from './operations/query.ts';
import { refund } from './operations/refund.ts';
import { queryRefund, type RefundQuery } from './operations/refund-query.ts';
import { type AlipayRequestEvent, AlipayTransport, type FetchLike } from './transport.ts';

export type { AlipayCertificates, AlipayMerchantConfig, RetryPolicy } from './config.ts';
export { DEFAULT_GATEWAY, SANDBOX_GATEWAY } from './config.ts';
export type { AlipayReturn, ReturnQuery } from './notify.ts';
export type { CancelResult } from './operations/cancel.ts';
export type { AlipayMiniProgramParams } from './operations/create.ts';
export type { AlipayRequestEvent, FetchLike } from './transport.ts';

export interface AlipayProviderOptions {
  merchants: AlipayMerchantConfig[];
  /** Replaces the HTTP client (tests, proxies); defaults to undici's fetch. */
  fetch?: FetchLike;
  /** Clock in milliseconds, for the Beijing-time timestamp of each request. */
  now?: () => number;
  /** Backoff sleep; tests pass a fast one. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Called once per HTTP attempt (payment_logs, metrics); never receives parameters or secrets. */
  onRequest?: (event: AlipayRequestEvent) => void;
}

export interface AlipayProvider extends Provider {
  readonly name: 'alipay';
  /** Refund queries need out_trade_no at Alipay; the interface's query does not carry it yet. */
  queryRefund(query: RefundQuery): ReturnType<Provider['queryRefund']>;
  /** alipay.trade.cancel: reverse a trade whose outcome is unknown. */
  cancelPayment(query: { merchantId: string; outTradeNo: string }): Promise<CancelResult>;
  /** Verifies return_url parameters; never proof of payment. */
  verifyReturn(merchantId: string, query: ReturnQuery): AlipayReturn;
}

export function createAlipayProvider(options: AlipayProviderOptions): AlipayProvider {
  const now = options.now ?? Date.now;
  const contexts = new Map<string, AlipayContext>();
  for (const config of options.merchants) {
    const merchant = resolveMerchant(config);
    if (contexts.has(merchant.merchantId)) {
      throw new PayError(40003, {
        field: 'merchantId',
        message: `alipay merchant ${merchant.merchantId} is configured twice`,
      });
    }
    const fetchImpl = options.fetch ?? (undiciFetch as unknown as FetchLike);
    const transport = new AlipayTransport({
      merchant,
      fetch: fetchImpl,
      now,
      sleep: options.sleep ?? ((ms) => delay(ms)),
      random: options.random ?? Math.random,
      onRequest: guardedObserver(options.onRequest),
    });
    contexts.set(merchant.merchantId, { merchant, transport, now, fetch: fetchImpl });
  }

  const contextFor = merchantLookup('alipay', contexts);

  return {
    name: 'alipay',
    identity: (merchantId: string, scene: Scene): GatewayIdentity => {
      const { merchant } = contextFor(merchantId);
      sceneMethod(scene);
      return { mchId: merchant.sellerId ?? merchant.appId, appId: merchant.appId };
    },
    createPayment: async (order) => createPayment(contextFor(order.merchantId), order),
    queryPayment: async (query) => queryPayment(contextFor(query.merchantId), query),
    closePayment: async (query) => closePayment(contextFor(query.merchantId), query),
    cancelPayment: async (query) => cancelPayment(contextFor(query.merchantId), query),
    refund: async (request) => refund(contextFor(request.merchantId), request),
    queryRefund: async (query) => queryRefund(contextFor(query.merchantId), query),
    parseNotify: async (merchantId, headers, rawBody) =>
      parseNotify(contextFor(merchantId), headers, rawBody),
    ackNotify: (answer) => ackNotify(answer),
    verifyReturn: (merchantId, query) => verifyReturn(contextFor(merchantId).merchant, query),
    merchantIds: () => [...contexts.keys()],
    // Alipay's bill download covers the past year; reconciliation catches up within three months.
    billWindowDays: 90,
    downloadTradeBill: async (merchantId, date) => {
      const context = contextFor(merchantId);
      return downloadAlipayTradeBill(context, context.fetch, date);
    },
  };
}
