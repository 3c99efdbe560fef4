/**
 * The Alipay OpenAPI (gateway.do) provider: one signed transport per merchant, and one small
 * mapping per operation behind the Provider interface.
 */

import { setTimeout as delay } from 'node:timers/promises';
import { fetch as undiciFetch } from 'undici';
import type { Scene } from '../../core/validate.ts';
import { AccountContexts, accountOf } from '../merchant-lookup.ts';
import { guardedObserver } from '../network.ts';
import type { GatewayIdentity, Provider } from '../provider.ts';
import { type AlipayMerchantConfig, resolveMerchant } from './config.ts';
import type { AlipayContext } from './context.ts';
import { alipayAccountFacts } from './facts.ts';
import { type AlipayReturn, ackNotify, parseNotify, type ReturnQuery, verifyReturn } from './notify.ts';
import { downloadAlipayTradeBill } from './operations/bill.ts';
import { type CancelResult, cancelPayment, reversePayment } from './operations/cancel.ts';
import { closePayment } from './operations/close.ts';
import { createPayment, sceneMethod } from './operations/pay.ts';
import { alipayProfitSharingOperations } from './operations/profit-sharing.ts';
import { queryPayment } from './operations/query.ts';
import { refund } from './operations/refund.ts';
import { queryRefund, type RefundQuery } from './operations/refund-query.ts';
import { alipayTransferOperations } from './operations/transfer.ts';
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
  cancelPayment(query: { merchantId: string; account?: string; outTradeNo: string }): Promise<CancelResult>;
  /** Verifies return_url parameters with the account's keys; never proof of payment. */
  verifyReturn(merchantId: string, query: ReturnQuery, account?: string): AlipayReturn;
}

export function createAlipayProvider(options: AlipayProviderOptions): AlipayProvider {
  const now = options.now ?? Date.now;
  const contexts = new AccountContexts<AlipayContext>('alipay');
  for (const config of options.merchants) {
    const merchant = resolveMerchant(config);
    const account = accountOf('alipay', merchant.merchantId, config.account);
    const fetchImpl = options.fetch ?? (undiciFetch as unknown as FetchLike);
    const transport = new AlipayTransport({
      merchant,
      fetch: fetchImpl,
      now,
      sleep: options.sleep ?? ((ms) => delay(ms)),
      random: options.random ?? Math.random,
      onRequest: guardedObserver(options.onRequest),
    });
    contexts.add(merchant.merchantId, account, { merchant, transport, now, fetch: fetchImpl });
  }

  const contextFor = (merchantId: string, account?: string) => contexts.get(merchantId, account);

  return {
    name: 'alipay',
    identity: (merchantId: string, scene: Scene, account?: string): GatewayIdentity => {
      const { merchant } = contextFor(merchantId, account);
      sceneMethod(scene);
      return { mchId: merchant.sellerId ?? merchant.appId, appId: merchant.appId };
    },
    createPayment: async (order) => createPayment(contextFor(order.merchantId, order.account), order),
    queryPayment: async (query) => queryPayment(contextFor(query.merchantId, query.account), query),
    closePayment: async (query) => closePayment(contextFor(query.merchantId, query.account), query),
    cancelPayment: async (query) => cancelPayment(contextFor(query.merchantId, query.account), query),
    reversePayment: async (query) => reversePayment(contextFor(query.merchantId, query.account), query),
    refund: async (request) => refund(contextFor(request.merchantId, request.account), request),
    queryRefund: async (query) => queryRefund(contextFor(query.merchantId, query.account), query),
    parseNotify: async (merchantId, headers, rawBody, account) =>
      parseNotify(contextFor(merchantId, account), headers, rawBody),
    ackNotify: (answer) => ackNotify(answer),
    verifyReturn: (merchantId, query, account) =>
      verifyReturn(contextFor(merchantId, account).merchant, query),
    merchantIds: () => contexts.merchantIds(),
    accounts: (merchantId) => contexts.accounts(merchantId),
    accountFacts: (merchantId) =>
      contexts
        .accounts(merchantId)
        .map((account) => alipayAccountFacts(account, contextFor(merchantId, account).merchant)),
    transfers: alipayTransferOperations(contextFor),
    profitSharing: alipayProfitSharingOperations(contextFor),
    // Alipay's bill download covers the past year; reconciliation catches up within three months.
    billWindowDays: 90,
    downloadTradeBill: async (merchantId, date, account) => {
      const context = contextFor(merchantId, account);
      return downloadAlipayTradeBill(context, context.fetch, date);
    },
  };
}
