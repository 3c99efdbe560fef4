/**
 * General trade system operations: the signed order for tt.requestOrder, the order query, refund
 * creation and refund query, each one mapping over the signed transport.
 */
import { randomBytes } from 'node:crypto';
import { PayError } from '../../../core/errors.ts';
import type {
  CreatedPayment,
  PaymentOrder,
  PaymentResult,
  RefundRequest,
  RefundResult,
} from '../../provider.ts';
import type { TradeMerchant } from '../config.ts';
import type { DouyinContext } from '../context.ts';
import { signedAuthorization } from '../sign.ts';
import type { TradeOrderWire, TradeRefundWire } from '../wire.ts';
import { tradeQueryResult, tradeRefundResult } from './results.ts';

/** The URI tt.requestOrder's signature is made over. */
export const REQUEST_ORDER_URI = '/requestOrder';
export const ORDER_QUERY_PATH = '/api/trade_basic/v1/developer/order_query/';
export const REFUND_CREATE_PATH = '/api/trade_basic/v1/developer/refund_create/';
export const REFUND_QUERY_PATH = '/api/trade_basic/v1/developer/refund_query/';
/** The platform pays an order within 48 hours at most; 300 s when none is given. */
export const MAX_PAY_EXPIRE_SECONDS = 48 * 3600;

const trade = (context: DouyinContext): TradeMerchant => context.merchant as TradeMerchant;

/** The `data` JSON of tt.requestOrder and its byteAuthorization. */
export function createTradePayment(context: DouyinContext, order: PaymentOrder): CreatedPayment {
  const merchant = trade(context);
  if (order.scene !== 'miniprogram') {
    throw new PayError(40001, {
      field: 'scene',
      message: `douyin pays only inside a Douyin mini app (scene miniprogram), not ${order.scene}`,
    });
  }
  const payExpireSeconds = order.expireAt
    ? Math.min(
        MAX_PAY_EXPIRE_SECONDS,
        Math.max(1, Math.floor((order.expireAt.getTime() - context.now()) / 1000)),
      )
    : undefined;
  const other = order.other ?? {};
  const data = JSON.stringify({
    skuList: [
      {
        skuId: typeof other.skuId === 'string' ? other.skuId : order.outTradeNo,
        price: order.totalFen,
        quantity: 1,
        title: order.subject,
        imageList: [merchant.sku.imageUrl],
        type: merchant.sku.type,
        tagGroupId: merchant.sku.tagGroupId,
      },
    ],
    outOrderNo: order.outTradeNo,
    totalAmount: order.totalFen,
    ...(payExpireSeconds !== undefined ? { payExpireSeconds } : {}),
    payNotifyUrl: order.notifyUrl,
    ...(merchant.merchantUid ? { merchantUid: merchant.merchantUid } : {}),
    orderEntrySchema: {
      path: merchant.orderEntryPath,
      params: JSON.stringify({ out_trade_no: order.outTradeNo }),
    },
  });
  const timestamp = String(Math.floor(context.now() / 1000));
  const nonce = randomBytes(16).toString('hex');
  const byteAuthorization = signedAuthorization(merchant, REQUEST_ORDER_URI, data, timestamp, nonce);
  return { client: { scene: 'miniprogram', data, byteAuthorization }, raw: { outOrderNo: order.outTradeNo } };
}

export async function queryTradePayment(
  context: DouyinContext,
  query: { merchantId: string; outTradeNo: string; transactionId?: string },
): Promise<PaymentResult> {
  const data = await context.transport.trade<TradeOrderWire>({
    api: 'order_query',
    path: ORDER_QUERY_PATH,
    body: query.transactionId ? { order_id: query.transactionId } : { out_order_no: query.outTradeNo },
    write: false,
  });
  const result = tradeQueryResult(data, { merchantId: query.merchantId, appId: context.merchant.appId });
  if (result.outTradeNo !== query.outTradeNo) {
    throw new PayError(40001, {
      field: 'transactionId',
      message: `douyin order ${query.transactionId ?? ''} belongs to ${result.outTradeNo}, not ${query.outTradeNo}`,
    });
  }
  return result;
}

export async function tradeRefund(context: DouyinContext, request: RefundRequest): Promise<RefundResult> {
  const merchant = trade(context);
  const data = await context.transport.trade<{ refund_id?: string }>({
    api: 'refund_create',
    path: REFUND_CREATE_PATH,
    body: {
      out_order_no: request.outTradeNo,
      out_refund_no: request.outRefundNo,
      refund_total_amount: request.refundFen,
      notify_url: request.notifyUrl,
      order_entry_schema: {
        path: merchant.orderEntryPath,
        params: JSON.stringify({ out_trade_no: request.outTradeNo }),
      },
      refund_reason: [{ code: 999, text: (request.reason ?? '退款').slice(0, 50) }],
    },
    write: true,
  });
  return {
    merchantId: request.merchantId,
    provider: 'douyin',
    outRefundNo: request.outRefundNo,
    status: 'PROCESSING',
    refundId: data.refund_id ?? null,
    refundFen: request.refundFen,
    source: 'request',
    raw: data,
  };
}

export async function queryTradeRefund(
  context: DouyinContext,
  query: { merchantId: string; outRefundNo: string },
): Promise<RefundResult> {
  const data = await context.transport.trade<{ refund_list?: TradeRefundWire[] }>({
    api: 'refund_query',
    path: REFUND_QUERY_PATH,
    body: { out_refund_no: query.outRefundNo },
    write: false,
  });
  const refund = (data.refund_list ?? []).find((item) => item.out_refund_no === query.outRefundNo);
  if (!refund) {
    throw new PayError(40005, {
      field: 'out_refund_no',
      gatewayCode: '20000',
      message: `douyin has no refund ${query.outRefundNo}`,
    });
  }
  return tradeRefundResult(refund, {
    merchantId: query.merchantId,
    appId: context.merchant.appId,
    source: 'query',
  });
}
