/**
 * Query a payment by our out_trade_no or by WeChat's transaction_id (an unpaid order can only be
 * found by out_trade_no). The answer must be about the order asked for and this merchant.
 */
import { PayError } from '../../../core/errors.ts';
import type { PaymentResult } from '../../provider.ts';
import { ownMchId, segment, type WxpayContext } from '../context.ts';
import type { WxpayPartner } from '../partner.ts';
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

/** Partner mode: the sub-merchant's order, named by sp_mchid and sub_mchid in the query string. */
export function partnerQueryPath(partner: WxpayPartner, query: PaymentQuery): string {
  const ids = `?sp_mchid=${encodeURIComponent(partner.spMchId)}&sub_mchid=${encodeURIComponent(partner.subMchId)}`;
  return query.transactionId
    ? `/v3/pay/partner/transactions/id/${segment(query.transactionId)}${ids}`
    : `/v3/pay/partner/transactions/out-trade-no/${segment(query.outTradeNo)}${ids}`;
}

export async function queryPayment(context: WxpayContext, query: PaymentQuery): Promise<PaymentResult> {
  const { partner } = context;
  const api = query.transactionId ? 'query.transaction_id' : 'query.out_trade_no';
  const reply = await context.transport.call<TransactionWire>({
    api: partner ? `partner.${api}` : api,
    method: 'GET',
    path: partner ? partnerQueryPath(partner, query) : queryPath(context.merchant.mchId, query),
    write: false,
  });
  const result = toPaymentResult(reply.data, {
    merchantId: query.merchantId,
    source: 'query',
    partner: Boolean(partner),
  });
  if (result.outTradeNo !== query.outTradeNo) {
    throw new PayError(40001, {
      field: 'transactionId',
      message: `wxpay transaction ${query.transactionId ?? ''} belongs to order ${result.outTradeNo}, not ${query.outTradeNo}`,
    });
  }
  const own = ownMchId(context);
  if (result.mchId && result.mchId !== own) {
    throw new PayError(50000, {
      field: partner ? 'sub_mchid' : 'mchid',
      gatewayCode: 'MCHID_MISMATCH',
      message: `wxpay query answered for mchid ${result.mchId}, not ${own}`,
    });
  }
  return result;
}
