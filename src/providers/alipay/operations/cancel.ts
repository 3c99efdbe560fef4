/**
 * alipay.trade.cancel: reverses a trade whose outcome is unknown (closes it if unpaid, refunds it if
 * paid). Alipay says retry_flag=Y means "send the same request again".
 */
import { PayError } from '../../../core/errors.ts';
import type { AlipayContext } from '../context.ts';

export interface CancelResult {
  /** What the gateway did: closed the unpaid trade, refunded the paid one, or nothing to report. */
  action: 'close' | 'refund' | null;
  transactionId: string | null;
  raw: unknown;
}

/**
 * The Provider's reversePayment: `retry` when the gateway sets retry_flag=Y (send the same cancel
 * again), `reversed` otherwise: closed (unpaid), refunded (paid meanwhile), or no trade to act on.
 * A system error stays a PayError with outcomeUnknown, so the caller cancels again.
 */
export async function reversePayment(
  context: AlipayContext,
  query: { merchantId: string; outTradeNo: string },
): Promise<'reversed' | 'retry'> {
  const { response } = await context.transport.call({
    method: 'alipay.trade.cancel',
    bizContent: { out_trade_no: query.outTradeNo },
    write: true,
  });
  if (response.out_trade_no !== undefined && response.out_trade_no !== query.outTradeNo) {
    throw new PayError(50000, {
      field: 'out_trade_no',
      gatewayCode: 'MALFORMED_RESPONSE',
      message: `alipay cancel answer is for another order than ${query.outTradeNo}`,
      outcomeUnknown: true,
    });
  }
  return response.retry_flag === 'Y' ? 'retry' : 'reversed';
}

export async function cancelPayment(
  context: AlipayContext,
  query: { merchantId: string; outTradeNo: string },
): Promise<CancelResult> {
  const { response } = await context.transport.call({
    method: 'alipay.trade.cancel',
    bizContent: { out_trade_no: query.outTradeNo },
    write: true,
  });
  if (response.retry_flag === 'Y' && typeof response.action !== 'string') {
    throw new PayError(40010, {
      gatewayCode: 'RETRY_FLAG_Y',
      message: `alipay cancel of ${query.outTradeNo} asks to be repeated`,
      outcomeUnknown: true,
    });
  }
  const action = response.action === 'close' || response.action === 'refund' ? response.action : null;
  return {
    action,
    transactionId: typeof response.trade_no === 'string' ? response.trade_no : null,
    raw: response,
  };
}
