/**
 * alipay.trade.query by out_trade_no, or by trade_no when given (trade_no wins at the gateway).
 * A trade that does not exist yet (precreate or page pay before the buyer acts) is unpaid, not an error.
 */
import { PayError } from '../../../core/errors.ts';
import type { PaymentResult } from '../../provider.ts';
import type { AlipayContext } from '../context.ts';
import { notYetCreated, toPaymentResult } from './results.ts';

export interface PaymentQuery {
  merchantId: string;
  outTradeNo: string;
  transactionId?: string;
}

export async function queryPayment(context: AlipayContext, query: PaymentQuery): Promise<PaymentResult> {
  const { merchant } = context;
  const bizContent = query.transactionId
    ? { trade_no: query.transactionId, out_trade_no: query.outTradeNo }
    : { out_trade_no: query.outTradeNo };
  let response: Record<string, unknown>;
  try {
    ({ response } = await context.transport.call({ method: 'alipay.trade.query', bizContent, write: false }));
  } catch (error) {
    // Only by our own number: a trade_no the gateway does not know is a real "not found".
    if (error instanceof PayError && error.gatewayCode === 'ACQ.TRADE_NOT_EXIST' && !query.transactionId) {
      return notYetCreated(merchant, query.outTradeNo);
    }
    throw error;
  }
  const result = toPaymentResult(response, { merchant, source: 'query', appId: merchant.appId });
  if (result.outTradeNo !== query.outTradeNo) {
    throw new PayError(40001, {
      field: 'transactionId',
      message: `alipay trade ${query.transactionId ?? ''} belongs to order ${result.outTradeNo}, not ${query.outTradeNo}`,
    });
  }
  return result;
}
