/**
 * alipay.trade.precreate (native scene): the gateway answers a qr_code to render. The trade itself
 * only exists once a buyer scans it, which is why a query can say ACQ.TRADE_NOT_EXIST meanwhile.
 */
import type { CreatedPayment, PaymentOrder } from '../../provider.ts';
import type { AlipayContext } from '../context.ts';
import { malformed } from './results.ts';

export async function precreate(
  context: AlipayContext,
  order: PaymentOrder,
  biz: Record<string, unknown>,
): Promise<CreatedPayment> {
  const reply = await context.transport.call({
    method: 'alipay.trade.precreate',
    bizContent: biz,
    write: true,
    notifyUrl: order.notifyUrl,
  });
  const { qr_code: qrCode, out_trade_no: outTradeNo } = reply.response;
  if (typeof qrCode !== 'string' || qrCode === '') throw malformed('precreate answer', 'qr_code');
  if (outTradeNo !== undefined && outTradeNo !== order.outTradeNo) {
    throw malformed('precreate answer', 'out_trade_no');
  }
  return { client: { scene: 'native', codeUrl: qrCode }, prepayId: null, raw: reply.response };
}
