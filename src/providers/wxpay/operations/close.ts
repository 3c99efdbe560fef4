/**
 * Close an unpaid order. WeChat answers 204; closing an order that is already closed counts as done,
 * so a retried close is harmless. Closing a paid order is 40006 (ORDERPAID).
 */
import { PayError } from '../../../core/errors.ts';
import { segment, type WxpayContext } from '../context.ts';
import { canonicalWxpayCode } from '../errors.ts';

export async function closePayment(context: WxpayContext, query: { outTradeNo: string }): Promise<void> {
  try {
    const { partner } = context;
    await context.transport.call(
      partner
        ? {
            api: 'partner.close',
            method: 'POST',
            path: `/v3/pay/partner/transactions/out-trade-no/${segment(query.outTradeNo)}/close`,
            body: { sp_mchid: partner.spMchId, sub_mchid: partner.subMchId },
            write: true,
          }
        : {
            api: 'close',
            method: 'POST',
            path: `/v3/pay/transactions/out-trade-no/${segment(query.outTradeNo)}/close`,
            body: { mchid: context.merchant.mchId },
            write: true,
          },
    );
  } catch (error) {
    if (
      error instanceof PayError &&
      error.gatewayCode &&
      canonicalWxpayCode(error.gatewayCode) === 'ORDER_CLOSED'
    ) {
      return;
    }
    throw error;
  }
}
