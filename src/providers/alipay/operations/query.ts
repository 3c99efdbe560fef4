/**
 * alipay.trade.query by out_trade_no, or by trade_no when given (trade_no wins at the gateway).
 * A trade that does not exist yet (precreate or page pay before the buyer acts) is unpaid, not an error.
 * WAIT_BUYER_PAY is unpaid (NOTPAY), except for a payment-code order (scene micropay), whose trade
 * waits only while the buyer confirms at the counter (a password): USERPAYING, as trade.pay's 10003.
 * The trade's answer does not name its scene, so the caller says it.
 */
import { PayError } from '../../../core/errors.ts';
import type { Scene } from '../../../core/validate.ts';
import type { PaymentResult } from '../../provider.ts';
import type { AlipayContext } from '../context.ts';
import { notYetCreated, toPaymentResult } from './results.ts';

export interface PaymentQuery {
  merchantId: string;
  outTradeNo: string;
  transactionId?: string;
  /** The order's scene, when the caller knows it. */
  scene?: Scene;
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
  // A bar-code trade still waiting: the buyer is confirming, so the service keeps polling and reverses
  // it at the window's end rather than taking another code for it.
  if (query.scene === 'micropay' && response.trade_status === 'WAIT_BUYER_PAY') {
    return { ...result, status: 'USERPAYING' };
  }
  return result;
}
