/**
 * The Douyin provider: per merchant app, the general trade system (tt.requestOrder) or the legacy
 * guaranteed payment (tt.pay), one signed transport each, one mapping per operation.
 */
import { fetch as undiciFetch } from 'undici';
import { PayError } from '../../core/errors.ts';
import { AccountContexts, accountOf } from '../merchant-lookup.ts';
import { guardedObserver } from '../network.ts';
import { refusePaymentCode } from '../payment-codes.ts';
import type { Provider } from '../provider.ts';
import { type DouyinMerchantConfig, resolveMerchant } from './config.ts';
import type { DouyinContext } from './context.ts';
import { douyinAccountFacts } from './facts.ts';
import { ackNotify, parseNotify } from './notify.ts';
import { createEcpayPayment, ecpayRefund, queryEcpayPayment, queryEcpayRefund } from './operations/ecpay.ts';
import { createTradePayment, queryTradePayment, queryTradeRefund, tradeRefund } from './operations/trade.ts';
import { type DouyinRequestEvent, DouyinTransport, type FetchLike } from './transport.ts';

export type { DouyinMerchantConfig, DouyinSkuConfig } from './config.ts';
export type { DouyinRequestEvent } from './transport.ts';

export interface DouyinProviderOptions {
  merchants: DouyinMerchantConfig[];
  /** Replaces the HTTP client (tests, proxies); defaults to undici's fetch. */
  fetch?: FetchLike;
  now?: () => number;
  /** Called once per HTTP attempt; never receives bodies or secrets. */
  onRequest?: (event: DouyinRequestEvent) => void;
}

export function createDouyinProvider(options: DouyinProviderOptions): Provider {
  const now = options.now ?? Date.now;
  const contexts = new AccountContexts<DouyinContext>('douyin');
  for (const config of options.merchants) {
    const merchant = resolveMerchant(config);
    const transport = new DouyinTransport({
      merchant,
      fetch: options.fetch ?? (undiciFetch as unknown as FetchLike),
      now,
      onRequest: guardedObserver(options.onRequest),
    });
    contexts.add(merchant.merchantId, accountOf('douyin', merchant.merchantId, config.account), {
      merchant,
      transport,
      now,
    });
  }
  const contextFor = (merchantId: string, account?: string) => contexts.get(merchantId, account);
  const ecpay = (context: DouyinContext) => context.merchant.api === 'ecpay';

  return {
    name: 'douyin',
    identity: (merchantId, _scene, account) => {
      const { merchant } = contextFor(merchantId, account);
      return { mchId: merchant.appId, appId: merchant.appId };
    },
    createPayment: async (order) => {
      refusePaymentCode('douyin', order);
      const context = contextFor(order.merchantId, order.account);
      return ecpay(context) ? createEcpayPayment(context, order) : createTradePayment(context, order);
    },
    queryPayment: async (query) => {
      const context = contextFor(query.merchantId, query.account);
      return ecpay(context) ? queryEcpayPayment(context, query) : queryTradePayment(context, query);
    },
    // Douyin has no close call: an unpaid order lapses at its expiry, and until then the buyer may
    // still pay it, so the caller keeps asking.
    closePayment: async (query) => {
      const context = contextFor(query.merchantId, query.account);
      try {
        const result = ecpay(context)
          ? await queryEcpayPayment(context, query)
          : await queryTradePayment(context, query);
        if (result.status === 'SUCCESS')
          throw new PayError(40006, {
            field: 'out_trade_no',
            message: `douyin order ${query.outTradeNo} is paid`,
          });
        return result.status === 'CLOSED' ? 'closed' : 'absent';
      } catch (error) {
        if (error instanceof PayError && error.code === 40005) return 'absent';
        throw error;
      }
    },
    refund: async (request) => {
      const context = contextFor(request.merchantId, request.account);
      return ecpay(context) ? ecpayRefund(context, request) : tradeRefund(context, request);
    },
    queryRefund: async (query) => {
      const context = contextFor(query.merchantId, query.account);
      return ecpay(context) ? queryEcpayRefund(context, query) : queryTradeRefund(context, query);
    },
    parseNotify: async (merchantId, headers, rawBody, account) =>
      parseNotify(contextFor(merchantId, account), headers, rawBody),
    ackNotify,
    merchantIds: () => contexts.merchantIds(),
    accounts: (merchantId) => contexts.accounts(merchantId),
    accountFacts: (merchantId) =>
      contexts
        .accounts(merchantId)
        .map((account) => douyinAccountFacts(account, contextFor(merchantId, account).merchant)),
  };
}
