/**
 * alipay.trade.close: only WAIT_BUYER_PAY trades close. Closing is idempotent on our side: an
 * already-closed trade leaves nothing to close, and one that was never created (an unscanned QR code,
 * a cashier page never opened) is `absent`: Alipay may still create it when the buyer scans.
 */
import { PayError } from '../../../core/errors.ts';
import type { AlipayContext } from '../context.ts';

export async function closePayment(
  context: AlipayContext,
  query: { merchantId: string; outTradeNo: string },
): Promise<'closed' | 'absent'> {
  try {
    await context.transport.call({
      method: 'alipay.trade.close',
      bizContent: { out_trade_no: query.outTradeNo },
      write: true,
    });
  } catch (error) {
    if (error instanceof PayError && error.gatewayCode === 'ACQ.TRADE_HAS_CLOSE') return 'closed';
    if (error instanceof PayError && error.gatewayCode === 'ACQ.TRADE_NOT_EXIST') return 'absent';
    throw error;
  }
  return 'closed';
}
