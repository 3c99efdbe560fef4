/**
 * Query a payment by our out_trade_no or by WeChat's transaction_id (an unpaid order can only be
 * found by out_trade_no). The answer must be about the order asked for and this merchant.
 */
import { PayError } from '../../../core/errors.ts';
import type { PaymentResult } from '../../provider.ts';
import { segment, type WxpayContext } from '../context.ts';
import type { TransactionWire } from '../wire.ts';
import { toPaymentResult } from './results.ts';

export interface PaymentQuery {
  merchantId: string;
  outTradeNo: string;
  transactionId?: string;
}

export function queryPath(mchId: string, query: PaymentQuery): string {
  const mchid = `?mchid=${encodeURIComponent(mchId)}`;
  return query.transactionId
    ? `/v3/pay/transactions/id/${segment(query.transactionId)}${mchid}`
    : `/v3/pay/transactions/out-trade-no/${segment(query.outTradeNo)}${mchid}`;
}

export async function queryPayment(context: WxpayContext, query: PaymentQuery): Promise<PaymentResult> {
  const reply = await context.transport.call<TransactionWire>({
    api: query.transactionId ? 'query.transaction_id' : 'query.out_trade_no',
    method: 'GET',
    path: queryPath(context.merchant.mchId, query),
    write: false,
  });
  const result = toPaymentResult(reply.data, { merchantId: query.merchantId, source: 'query' });
  if (result.outTradeNo !== query.outTradeNo) {
    throw new PayError(40001, {
      field: 'transactionId',
      message: `wxpay transaction ${query.transactionId ?? ''} belongs to order ${result.outTradeNo}, not ${query.outTradeNo}`,
    });
  }
  if (result.mchId && result.mchId !== context.merchant.mchId) {
    throw new PayError(50000, {
      field: 'mchid',
      gatewayCode: 'MCHID_MISMATCH',
      message: `wxpay query answered for mchid ${result.mchId}, not ${context.merchant.mchId}`,
    });
  }
  return result;
}
