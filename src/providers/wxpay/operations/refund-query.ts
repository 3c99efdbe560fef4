/** Query a refund by our out_refund_no. */
import type { RefundResult } from '../../provider.ts';
import { segment, type WxpayContext } from '../context.ts';
import type { RefundWire } from '../wire.ts';
import { toRefundResult } from './results.ts';

export async function queryRefund(
  context: WxpayContext,
  query: { merchantId: string; outRefundNo: string },
): Promise<RefundResult> {
  const reply = await context.transport.call<RefundWire>({
    api: 'refund.query',
    method: 'GET',
    path: `/v3/refund/domestic/refunds/${segment(query.outRefundNo)}${
      context.partner ? `?sub_mchid=${encodeURIComponent(context.partner.subMchId)}` : ''
    }`,
    write: false,
  });
  return toRefundResult(reply.data, {
    merchantId: query.merchantId,
    source: 'query',
    outRefundNo: query.outRefundNo,
  });
}
