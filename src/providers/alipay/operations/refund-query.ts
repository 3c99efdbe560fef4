/**
 * alipay.trade.fastpay.refund.query by out_request_no (our outRefundNo) and out_trade_no. Only
 * refund_status=REFUND_SUCCESS means refunded; without it the refund was not received or did not
 * go through, which stays PROCESSING and is marked resendable: Alipay's remedy is to send the
 * refund again with the same out_request_no.
 */
import { PayError } from '../../../core/errors.ts';
import type { RefundResult } from '../../provider.ts';
import type { AlipayContext } from '../context.ts';
import { parseBeijingTime } from '../sign.ts';
import { fenOf } from './results.ts';

export interface RefundQuery {
  merchantId: string;
  account?: string;
  outRefundNo: string;
  /** Required by Alipay beside out_request_no. */
  outTradeNo: string;
}

export function toRefundQueryResult(response: Record<string, unknown>, query: RefundQuery): RefundResult {
  const succeeded = response.refund_status === 'REFUND_SUCCESS';
  if (succeeded && response.out_request_no !== undefined && response.out_request_no !== query.outRefundNo) {
    throw new PayError(50000, {
      field: 'out_request_no',
      gatewayCode: 'MALFORMED_RESPONSE',
      message: `alipay refund query answered for another refund than ${query.outRefundNo}`,
    });
  }
  return {
    merchantId: query.merchantId,
    provider: 'alipay',
    outRefundNo: query.outRefundNo,
    status: succeeded ? 'SUCCESS' : 'PROCESSING',
    refundId: typeof response.trade_no === 'string' ? response.trade_no : null,
    // refund_amount here is this refund's own amount (unlike refund_fee in the refund answer).
    refundFen: succeeded ? fenOf(response.refund_amount, 'refund_amount', 'refund query answer') : null,
    successTime: succeeded ? parseBeijingTime(response.gmt_refund_pay) : null,
    eventId: null,
    source: 'query',
    resendable: !succeeded,
    raw: response,
  };
}

export async function queryRefund(context: AlipayContext, query: RefundQuery): Promise<RefundResult> {
  if (!query.outTradeNo) {
    throw new PayError(40001, {
      field: 'out_trade_no',
      message: 'alipay refund queries need the out_trade_no of the refunded order',
    });
  }
  const { response } = await context.transport.call({
    method: 'alipay.trade.fastpay.refund.query',
    bizContent: {
      out_trade_no: query.outTradeNo,
      out_request_no: query.outRefundNo,
      query_options: ['gmt_refund_pay'],
    },
    write: false,
  });
  return toRefundQueryResult(response, query);
}
