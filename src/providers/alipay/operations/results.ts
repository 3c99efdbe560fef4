/**
 * Maps Alipay's trade fields (from trade.query answers and from notifications, which share names)
 * onto PaymentResult. Queries and notifications share this function, so a lost callback healed by a
 * query reads the same.
 */
import { PayError } from '../../../core/errors.ts';
import { type Fen, yuanToFen } from '../../../core/money.ts';
import type { PaymentResult } from '../../provider.ts';
import type { AlipayMerchant } from '../config.ts';
import { parseBeijingTime } from '../sign.ts';

export type TradeFields = Readonly<Record<string, unknown>>;

export function malformed(what: string, field: string): PayError {
  return new PayError(50000, {
    field,
    gatewayCode: 'MALFORMED_RESPONSE',
    message: `alipay ${what} lacks a valid ${field}`,
    details: { provider: 'alipay' },
  });
}

/** A yuan string from the gateway as fen; a bad one is the gateway's fault, not the caller's. */
export function fenOf(value: unknown, field: string, what: string): Fen {
  if (typeof value !== 'string') throw malformed(what, field);
  try {
    return yuanToFen(value, field);
  } catch {
    throw malformed(what, field);
  }
}

const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);

function positiveYuan(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    return yuanToFen(value) > 0;
  } catch {
    return false;
  }
}

/**
 * TRADE_CLOSED means "closed unpaid" or "paid, then fully refunded" (C.6): a payment time or any
 * refunded or received money says it was paid, and a paid order must never read as unpaid.
 */
export function wasPaid(trade: TradeFields): boolean {
  return (
    text(trade.send_pay_date) !== null ||
    text(trade.gmt_payment) !== null ||
    text(trade.gmt_refund) !== null ||
    positiveYuan(trade.refund_fee) ||
    positiveYuan(trade.receipt_amount) ||
    positiveYuan(trade.buyer_pay_amount)
  );
}

export function paymentStatusOf(trade: TradeFields, what: string): PaymentResult['status'] {
  switch (trade.trade_status) {
    case 'WAIT_BUYER_PAY':
      return 'NOTPAY';
    case 'TRADE_SUCCESS':
    case 'TRADE_FINISHED':
      return 'SUCCESS';
    case 'TRADE_CLOSED':
      return wasPaid(trade) ? 'SUCCESS' : 'CLOSED';
    default:
      throw malformed(what, 'trade_status');
  }
}

export interface ResultContext {
  merchant: AlipayMerchant;
  source: PaymentResult['source'];
  eventId?: string | null;
  /** The app the trade belongs to: app_id of a notification, our own app for a query. */
  appId: string | null;
}

export function toPaymentResult(trade: TradeFields, context: ResultContext): PaymentResult {
  const what = context.source === 'notify' ? 'notification' : 'trade';
  const status = paymentStatusOf(trade, what);
  const outTradeNo = text(trade.out_trade_no);
  if (!outTradeNo) throw malformed(what, 'out_trade_no');
  return {
    merchantId: context.merchant.merchantId,
    provider: 'alipay',
    outTradeNo,
    transactionId: text(trade.trade_no),
    // total_amount is the order amount; discounts lower buyer_pay_amount, not this.
    amountFen: fenOf(trade.total_amount, 'total_amount', what),
    status,
    // identity() gives sellerId as mchId when configured, so only then is seller_id comparable.
    mchId: context.merchant.sellerId ? text(trade.seller_id) : null,
    appId: context.appId,
    paidAt: status === 'SUCCESS' ? parseBeijingTime(trade.gmt_payment ?? trade.send_pay_date) : null,
    eventId: context.eventId ?? null,
    source: context.source,
    raw: trade,
  };
}

/** A precreated QR code nobody has scanned yet: the trade does not exist, and the order is unpaid. */
export function notYetCreated(merchant: AlipayMerchant, outTradeNo: string): PaymentResult {
  return {
    merchantId: merchant.merchantId,
    provider: 'alipay',
    outTradeNo,
    transactionId: null,
    amountFen: 0,
    status: 'NOTPAY',
    mchId: null,
    appId: merchant.appId,
    paidAt: null,
    eventId: null,
    source: 'query',
    raw: { sub_code: 'ACQ.TRADE_NOT_EXIST' },
  };
}
