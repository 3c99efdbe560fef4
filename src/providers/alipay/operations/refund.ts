/**
 * alipay.trade.refund: out_request_no (our outRefundNo) is the idempotency key, so a retry with the
 * same parameters never refunds twice. refund_fee in the answer is the CUMULATIVE amount refunded on
 * the trade, not this refund's; fund_change=Y says this call moved money, N asks for a refund query.
 */
import { PayError } from '../../../core/errors.ts';
import type { Fen } from '../../../core/money.ts';
import { fenToYuan } from '../../../core/money.ts';
import type { RefundRequest, RefundResult } from '../../provider.ts';
import type { AlipayContext } from '../context.ts';
import { parseBeijingTime } from '../sign.ts';
import { fenOf } from './results.ts';
import { accountTypeOf } from './royalty-relation.ts';

const REASON_MAX = 256;

export function refundBizContent(request: RefundRequest): Record<string, unknown> {
  const biz: Record<string, unknown> = {
    out_trade_no: request.outTradeNo,
    out_request_no: request.outRefundNo,
    refund_amount: fenToYuan(request.refundFen),
  };
  if (request.reason) biz.refund_reason = Array.from(request.reason).slice(0, REASON_MAX).join('');
  // The splits this refund takes back: the receiver gives its share back before the buyer is paid.
  if (request.splitReturns && request.splitReturns.length > 0)
    biz.refund_royalty_parameters = request.splitReturns.map((split, index) => {
      if (!Number.isSafeInteger(split.amountFen) || split.amountFen <= 0)
        throw new PayError(40001, {
          field: `split_returns[${index}].amount`,
          message: 'a split return moves a positive integer of fen',
        });
      return {
        royalty_type: 'transfer',
        trans_out: split.account,
        trans_out_type: accountTypeOf(split.type, `split_returns[${index}].type`),
        amount: fenToYuan(split.amountFen),
      };
    });
  return biz;
}

/**
 * This refund's result from the refund answer. Success needs fund_change=Y and a cumulative total
 * that covers this refund; anything else is left PROCESSING for the refund query to settle.
 */
export function toRefundAnswer(
  response: Record<string, unknown>,
  request: Pick<RefundRequest, 'merchantId' | 'outRefundNo' | 'refundFen'>,
): RefundResult & { cumulativeRefundFen: Fen } {
  const cumulativeRefundFen = fenOf(response.refund_fee, 'refund_fee', 'refund answer');
  const settled = response.fund_change === 'Y' && cumulativeRefundFen >= request.refundFen;
  return {
    merchantId: request.merchantId,
    provider: 'alipay',
    outRefundNo: request.outRefundNo,
    status: settled ? 'SUCCESS' : 'PROCESSING',
    refundId: typeof response.trade_no === 'string' ? response.trade_no : null,
    // Alipay names no per-refund amount here: this refund's is the one it just accepted.
    refundFen: settled ? request.refundFen : null,
    successTime: settled ? parseBeijingTime(response.gmt_refund_pay) : null,
    eventId: null,
    source: 'request',
    raw: response,
    cumulativeRefundFen,
  };
}

export async function refund(context: AlipayContext, request: RefundRequest): Promise<RefundResult> {
  const { response } = await context.transport.call({
    method: 'alipay.trade.refund',
    bizContent: refundBizContent(request),
    write: true,
  });
  const { cumulativeRefundFen: _cumulative, ...result } = toRefundAnswer(response, request);
  return result;
}
