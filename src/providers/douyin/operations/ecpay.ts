/**
 * Legacy guaranteed payment (担保支付) operations: create_order for tt.pay, query_order,
 * create_refund and query_refund, each signed with the app's salt by the transport.
 */
import { PayError } from '../../../core/errors.ts';
import type {
  CreatedPayment,
  PaymentOrder,
  PaymentResult,
  RefundRequest,
  RefundResult,
} from '../../provider.ts';
import type { DouyinContext } from '../context.ts';
import type { EcpayPaymentInfo } from '../wire.ts';
import { ecpayQueryResult, ecpayRefundResult } from './results.ts';

export const ECPAY_PATHS = {
  createOrder: '/api/apps/ecpay/v1/create_order',
  queryOrder: '/api/apps/ecpay/v1/query_order',
  createRefund: '/api/apps/ecpay/v1/create_refund',
  queryRefund: '/api/apps/ecpay/v1/query_refund',
} as const;

/** Guaranteed payment orders stay payable between 15 minutes and 2 days; 1 hour when unset. */
const MIN_VALID_SECONDS = 15 * 60;
const MAX_VALID_SECONDS = 2 * 86_400;

export async function createEcpayPayment(
  context: DouyinContext,
  order: PaymentOrder,
): Promise<CreatedPayment> {
  if (order.scene !== 'miniprogram') {
    throw new PayError(40001, {
      field: 'scene',
      message: `douyin pays only inside a Douyin mini app (scene miniprogram), not ${order.scene}`,
    });
  }
  const validTime = order.expireAt
    ? Math.min(
        MAX_VALID_SECONDS,
        Math.max(MIN_VALID_SECONDS, Math.floor((order.expireAt.getTime() - context.now()) / 1000)),
      )
    : 3600;
  const answer = await context.transport.ecpay<{ data?: { order_id?: string; order_token?: string } }>({
    api: 'create_order',
    path: ECPAY_PATHS.createOrder,
    body: {
      out_order_no: order.outTradeNo,
      total_amount: order.totalFen,
      subject: order.subject.slice(0, 128),
      body: order.subject.slice(0, 128),
      valid_time: validTime,
      notify_url: order.notifyUrl,
    },
    write: true,
  });
  const orderId = answer.data?.order_id;
  const orderToken = answer.data?.order_token;
  if (!orderId || !orderToken) {
    throw new PayError(50000, {
      gatewayCode: 'MALFORMED_ANSWER',
      message: 'douyin create_order answered without order_id and order_token',
      outcomeUnknown: true,
    });
  }
  return {
    client: { scene: 'miniprogram', orderInfo: { order_id: orderId, order_token: orderToken }, service: 5 },
    prepayId: orderId,
    raw: answer.data,
  };
}

export async function queryEcpayPayment(
  context: DouyinContext,
  query: { merchantId: string; outTradeNo: string },
): Promise<PaymentResult> {
  const answer = await context.transport.ecpay<{
    out_order_no?: string;
    order_id?: string;
    payment_info?: EcpayPaymentInfo;
  }>({
    api: 'query_order',
    path: ECPAY_PATHS.queryOrder,
    body: { out_order_no: query.outTradeNo },
    write: false,
  });
  const result = ecpayQueryResult(answer, { merchantId: query.merchantId, appId: context.merchant.appId });
  if (result.outTradeNo !== query.outTradeNo) {
    throw new PayError(50000, {
      field: 'out_order_no',
      message: `douyin query_order answered for ${result.outTradeNo}, not ${query.outTradeNo}`,
    });
  }
  return result;
}

export async function ecpayRefund(context: DouyinContext, request: RefundRequest): Promise<RefundResult> {
  const answer = await context.transport.ecpay<{ refund_no?: string }>({
    api: 'create_refund',
    path: ECPAY_PATHS.createRefund,
    body: {
      out_order_no: request.outTradeNo,
      out_refund_no: request.outRefundNo,
      reason: (request.reason ?? '退款').slice(0, 100),
      refund_amount: request.refundFen,
      notify_url: request.notifyUrl,
    },
    write: true,
  });
  return {
    merchantId: request.merchantId,
    provider: 'douyin',
    outRefundNo: request.outRefundNo,
    status: 'PROCESSING',
    refundId: answer.refund_no ?? null,
    refundFen: request.refundFen,
    source: 'request',
    raw: answer,
  };
}

export async function queryEcpayRefund(
  context: DouyinContext,
  query: { merchantId: string; outRefundNo: string },
): Promise<RefundResult> {
  const answer = await context.transport.ecpay<{
    refundInfo?: { refund_no?: string; refund_amount?: number; refund_status?: string };
  }>({
    api: 'query_refund',
    path: ECPAY_PATHS.queryRefund,
    body: { out_refund_no: query.outRefundNo },
    write: false,
  });
  return ecpayRefundResult(
    { out_refund_no: query.outRefundNo, ...answer.refundInfo },
    { merchantId: query.merchantId, appId: context.merchant.appId, source: 'query' },
  );
}
