/**
 * Request a refund (partial or full, up to 50 per order). The out_refund_no is the idempotency key:
 * a retry after a timeout must reuse it, and the transport resends the same body on 5xx. A successful
 * call only means the refund was accepted; the result comes from a query or a notification.
 */
import type { RefundRequest, RefundResult } from '../../provider.ts';
import type { WxpayContext } from '../context.ts';
import type { RefundRequestWire, RefundWire } from '../wire.ts';
import { toRefundResult } from './results.ts';

const REASON_MAX = 80;

export function refundRequest(request: RefundRequest): RefundRequestWire {
  const body: RefundRequestWire = {
    out_trade_no: request.outTradeNo,
    out_refund_no: request.outRefundNo,
    notify_url: request.notifyUrl,
    amount: { refund: request.refundFen, total: request.totalFen, currency: 'CNY' },
  };
  if (request.reason) body.reason = Array.from(request.reason).slice(0, REASON_MAX).join('');
  return body;
}

export async function refund(context: WxpayContext, request: RefundRequest): Promise<RefundResult> {
  const reply = await context.transport.call<RefundWire>({
    api: 'refund',
    method: 'POST',
    path: '/v3/refund/domestic/refunds',
    // Partner mode: the same endpoint, naming the sub-merchant whose order is refunded.
    body: context.partner
      ? { sub_mchid: context.partner.subMchId, ...refundRequest(request) }
      : refundRequest(request),
    write: true,
  });
  return toRefundResult(reply.data, {
    merchantId: request.merchantId,
    source: 'request',
    outRefundNo: request.outRefundNo,
  });
}
