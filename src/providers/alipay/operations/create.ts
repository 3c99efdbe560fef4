/**
 * alipay.trade.create (mini program): creates the trade for a known buyer and answers trade_no,
 * which the mini program hands to my.tradePay({ tradeNO }).
 */
import { PayError } from '../../../core/errors.ts';
import type { CreatedPayment, PaymentOrder } from '../../provider.ts';
import type { AlipayContext } from '../context.ts';
import { malformed } from './results.ts';

/** What my.tradePay needs. ClientPayParams has no Alipay mini-program member yet (see the docs page). */
export interface AlipayMiniProgramParams {
  scene: 'miniprogram';
  tradeNO: string;
}

/** Alipay user ids are 2088 followed by 12 digits; anything else is an app-scoped open id. */
const ALIPAY_USER_ID = /^2088\d{12}$/;

export function buyerField(openid: string | null | undefined): Record<string, string> {
  if (!openid) {
    throw new PayError(40001, {
      field: 'openid',
      message: 'alipay miniprogram payments need the buyer id (user id 2088... or open id) in openid',
    });
  }
  return ALIPAY_USER_ID.test(openid) ? { buyer_id: openid } : { buyer_open_id: openid };
}

export async function createMiniProgramTrade(
  context: AlipayContext,
  order: PaymentOrder,
  biz: Record<string, unknown>,
): Promise<CreatedPayment> {
  const reply = await context.transport.call({
    method: 'alipay.trade.create',
    bizContent: { ...biz, ...buyerField(order.openid) },
    write: true,
    notifyUrl: order.notifyUrl,
  });
  const { trade_no: tradeNo, out_trade_no: outTradeNo } = reply.response;
  if (typeof tradeNo !== 'string' || tradeNo === '') throw malformed('create answer', 'trade_no');
  if (outTradeNo !== undefined && outTradeNo !== order.outTradeNo) {
    throw malformed('create answer', 'out_trade_no');
  }
  const client: AlipayMiniProgramParams = { scene: 'miniprogram', tradeNO: tradeNo };
  return {
    client,
    prepayId: tradeNo,
    raw: reply.response,
  };
}
