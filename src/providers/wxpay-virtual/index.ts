/**
 * WeChat mini program virtual payment (小程序虚拟支付): the buyer pays inside the mini program with
 * wx.requestVirtualPayment, from arguments this provider signs; WeChat pushes the delivery (paid)
 * and refund events to the mini program's message push URL; orders are queried and refunded
 * through the /xpay/ server API, signed with the AppKey.
 */
import { PayError } from '../../core/errors.ts';
import { AccountContexts, accountOf } from '../merchant-lookup.ts';
import { refusePaymentCode } from '../payment-codes.ts';
import type { PaymentResult, Provider, RefundResult } from '../provider.ts';
import { VirtualApiClient, type VirtualFetch } from './api-client.ts';
import { resolveMerchant, type WxpayVirtualMerchant, type WxpayVirtualMerchantConfig } from './config.ts';
import { ackVirtualNotify, answerUrlCheck, type PushQuery, parseVirtualNotify } from './notify.ts';
import { virtualPaymentParams } from './payment-params.ts';
import type { QueryOrderAnswer, RefundOrderAnswer, XpayOrder } from './wire.ts';

export type { WxpayVirtualMerchantConfig } from './config.ts';

export const WXPAY_VIRTUAL = 'wxpay-virtual';

/** query_order's answer for an order WeChat does not hold. */
const NOT_FOUND = '268500004';

export interface WxpayVirtualProviderOptions {
  merchants: WxpayVirtualMerchantConfig[];
  fetch?: VirtualFetch;
  now?: () => number;
}

export interface WxpayVirtualProvider extends Provider {
  readonly name: 'wxpay-virtual';
  /** The echostr to answer WeChat's check of the push URL, or null when it does not verify. */
  answerUrlCheck(merchantId: string, query: PushQuery, account?: string): string | null;
}

interface VirtualContext {
  merchant: WxpayVirtualMerchant;
  client: VirtualApiClient;
}

export function createWxpayVirtualProvider(options: WxpayVirtualProviderOptions): WxpayVirtualProvider {
  const now = options.now ?? Date.now;
  const fetchImpl: VirtualFetch = options.fetch ?? ((url, init) => fetch(url, init));
  const contexts = new AccountContexts<VirtualContext>(WXPAY_VIRTUAL);
  for (const config of options.merchants) {
    const merchant = resolveMerchant(config);
    contexts.add(merchant.merchantId, accountOf(WXPAY_VIRTUAL, merchant.merchantId, config.account), {
      merchant,
      client: new VirtualApiClient(merchant, fetchImpl, now),
    });
  }
  const contextFor = (merchantId: string, account?: string) => contexts.get(merchantId, account);

  /** query_order by our number (a payment's or a refund's); null when WeChat holds none. */
  async function queryOrder(context: VirtualContext, orderId: string): Promise<XpayOrder | null> {
    try {
      const answer = await context.client.xpay<QueryOrderAnswer>(
        '/xpay/query_order',
        { order_id: orderId, env: context.merchant.env },
        false,
      );
      if (!answer.order) throw new PayError(50000, { message: 'WeChat query_order answered no order' });
      return answer.order;
    } catch (error) {
      if (error instanceof PayError && error.gatewayCode === NOT_FOUND) return null;
      throw error;
    }
  }

  return {
    name: WXPAY_VIRTUAL,
    identity: (merchantId, _scene, account) => {
      const { merchant } = contextFor(merchantId, account);
      return { mchId: merchant.offerId, appId: merchant.appId };
    },
    createPayment: async (order) => {
      refusePaymentCode('wxpay-virtual', order);
      const { merchant } = contextFor(order.merchantId, order.account);
      return { client: virtualPaymentParams(merchant, order), raw: null };
    },
    queryPayment: async (query) => {
      const context = contextFor(query.merchantId, query.account);
      const found = await queryOrder(context, query.outTradeNo);
      return paymentResultOf(query.merchantId, context.merchant, query.outTradeNo, found);
    },
    // WeChat has no close: an order nobody paid simply never becomes one there.
    closePayment: async () => 'absent',
    refund: async (request) => {
      const context = contextFor(request.merchantId, request.account);
      const paid = await queryOrder(context, request.outTradeNo);
      if (paid?.order_type !== 0)
        throw new PayError(40005, { field: 'out_trade_no', message: 'WeChat holds no such paid order' });
      if (!request.openid)
        throw new PayError(40001, {
          field: 'openid',
          message: "a virtual payment refund needs the buyer's openid",
        });
      const answer = await context.client.xpay<RefundOrderAnswer>(
        '/xpay/refund_order',
        {
          openid: request.openid,
          order_id: request.outTradeNo,
          refund_order_id: request.outRefundNo,
          left_fee: paid.left_fee ?? paid.order_fee,
          refund_fee: request.refundFen,
          biz_meta: '',
          refund_reason: '0',
          req_from: '1',
          env: context.merchant.env,
        },
        true,
      );
      return {
        merchantId: request.merchantId,
        provider: WXPAY_VIRTUAL,
        outRefundNo: request.outRefundNo,
        status: 'PROCESSING',
        refundId: answer.refund_wx_order_id ?? null,
        refundFen: request.refundFen,
        source: 'request',
        raw: answer,
      };
    },
    // A refund is an order of its own at WeChat (order_type 1), queried by its number.
    queryRefund: async (query) => {
      const context = contextFor(query.merchantId, query.account);
      const found = await queryOrder(context, query.outRefundNo);
      return refundResultOf(query.merchantId, query.outRefundNo, found);
    },
    parseNotify: async (merchantId, _headers, rawBody, account, query) =>
      parseVirtualNotify(contextFor(merchantId, account).merchant, query ?? {}, rawBody),
    ackNotify: ackVirtualNotify,
    merchantIds: () => contexts.merchantIds(),
    accounts: (merchantId) => contexts.accounts(merchantId),
    answerUrlCheck: (merchantId, query, account) =>
      answerUrlCheck(contextFor(merchantId, account).merchant, query),
  };
}

/** 0/1 not paid yet; 2 to 5 and 7 paid (refunds are refunds' business); 6 closed. */
function paymentResultOf(
  merchantId: string,
  merchant: WxpayVirtualMerchant,
  outTradeNo: string,
  order: XpayOrder | null,
): PaymentResult {
  const status: PaymentResult['status'] =
    order === null || order.status <= 1 ? 'NOTPAY' : order.status === 6 ? 'CLOSED' : 'SUCCESS';
  return {
    merchantId,
    provider: WXPAY_VIRTUAL,
    outTradeNo,
    transactionId: order?.wxpay_order_id || order?.wx_order_id || null,
    amountFen: order?.order_fee ?? 0,
    status,
    mchId: merchant.offerId,
    appId: merchant.appId,
    paidAt: order?.paid_time ? new Date(order.paid_time * 1000) : null,
    source: 'query',
    raw: order,
  };
}

/** A refund order: 5 refunded, 7 failed, anything before still in progress. */
function refundResultOf(merchantId: string, outRefundNo: string, order: XpayOrder | null): RefundResult {
  if (order === null)
    return {
      merchantId,
      provider: WXPAY_VIRTUAL,
      outRefundNo,
      status: 'PROCESSING',
      resendable: true,
      source: 'query',
      raw: null,
    };
  if (order.order_type !== 1)
    throw new PayError(40005, {
      field: 'out_refund_no',
      message: `${outRefundNo} is not a refund at WeChat`,
    });
  const status: RefundResult['status'] =
    order.status === 5 ? 'SUCCESS' : order.status === 7 ? 'CLOSED' : 'PROCESSING';
  return {
    merchantId,
    provider: WXPAY_VIRTUAL,
    outRefundNo,
    status,
    refundId: order.wx_order_id ?? null,
    refundFen: order.refund_fee ?? null,
    successTime: status === 'SUCCESS' && order.paid_time ? new Date(order.paid_time * 1000) : null,
    source: 'query',
    raw: order,
  };
}
