/**
 * alipay.trade.close: only WAIT_BUYER_PAY trades close. Closing is idempotent on our side: an
 * already-closed trade, or one that was never created (an unscanned QR code), leaves nothing to close.
 */
import { PayError } from '../../../core/errors.ts';
import type { AlipayContext } from '../context.ts';

const NOTHING_TO_CLOSE = new Set(['ACQ.TRADE_HAS_CLOSE', 'ACQ.TRADE_NOT_EXIST']);

export async function closePayment(
  context: AlipayContext,
  query: { merchantId: string; outTradeNo: string },
): Promise<void> {
  try {
    await context.transport.call({
      method: 'alipay.trade.close',
      bizContent: { out_trade_no: query.outTradeNo },
      write: true,
    });
  } catch (error) {
    if (error instanceof PayError && error.gatewayCode && NOTHING_TO_CLOSE.has(error.gatewayCode)) return;
    throw error;
  }
}
