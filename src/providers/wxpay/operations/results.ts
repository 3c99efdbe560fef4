/**
 * Maps WeChat's Transaction and Refund objects onto PaymentResult and RefundResult. Queries and
 * notifications share these two functions, so a lost callback healed by a query reads the same.
 */
import { PayError } from '../../../core/errors.ts';
import type { PaymentResult, RefundResult } from '../../provider.ts';
import type { RefundWire, TransactionWire } from '../wire.ts';

/** trade_state words, the same in APIv3 and APIv2. */
export const PAYMENT_STATUS: Readonly<Record<string, PaymentResult['status']>> = {
  SUCCESS: 'SUCCESS',
  // REFUND means a refund was started on a paid order: the payment itself did happen.
  REFUND: 'SUCCESS',
  NOTPAY: 'NOTPAY',
  USERPAYING: 'USERPAYING',
  ACCEPT: 'USERPAYING',
  CLOSED: 'CLOSED',
  REVOKED: 'CLOSED',
  PAYERROR: 'FAILED',
};

const REFUND_STATUS: Readonly<Record<string, RefundResult['status']>> = {
  SUCCESS: 'SUCCESS',
  CLOSED: 'CLOSED',
  PROCESSING: 'PROCESSING',
  ABNORMAL: 'ABNORMAL',
};

function malformed(what: string, field: string): PayError {
  return new PayError(50000, {
    field,
    gatewayCode: 'MALFORMED_RESPONSE',
    message: `wxpay ${what} lacks a valid ${field}`,
    details: { provider: 'wxpay' },
  });
}

function parseTime(value: string | undefined): Date | null {
  if (!value) return null;
  const time = new Date(value);
  return Number.isNaN(time.getTime()) ? null : time;
}

export interface ResultContext {
  merchantId: string;
  source: 'notify' | 'query';
  eventId?: string | null;
  /** A partner-mode Transaction: the order's merchant is sub_mchid, its app sub_appid or sp_appid. */
  partner?: boolean;
}

export function toPaymentResult(transaction: TransactionWire | null, context: ResultContext): PaymentResult {
  if (!transaction || typeof transaction !== 'object') throw malformed('transaction', 'body');
  const status = PAYMENT_STATUS[String(transaction.trade_state)];
  if (!status) throw malformed('transaction', 'trade_state');
  if (!transaction.out_trade_no) throw malformed('transaction', 'out_trade_no');
  const total = transaction.amount?.total;
  // amount.total is the order amount in integer fen (coupons lower payer_total, not total).
  if (!Number.isSafeInteger(total) || (total as number) < 0) throw malformed('transaction', 'amount.total');
  return {
    merchantId: context.merchantId,
    provider: 'wxpay',
    outTradeNo: transaction.out_trade_no,
    transactionId: transaction.transaction_id || null,
    amountFen: total as number,
    status,
    mchId: (context.partner ? transaction.sub_mchid : transaction.mchid) ?? null,
    appId: (context.partner ? (transaction.sub_appid ?? transaction.sp_appid) : transaction.appid) ?? null,
    paidAt: status === 'SUCCESS' ? parseTime(transaction.success_time) : null,
    eventId: context.eventId ?? null,
    source: context.source,
    raw: transaction,
  };
}

export function toRefundResult(
  refund: RefundWire | null,
  context: {
    merchantId: string;
    source: RefundResult['source'];
    eventId?: string | null;
    /** When the answer is to a request about one refund, it must be about that refund. */
    outRefundNo?: string;
  },
): RefundResult {
  if (!refund || typeof refund !== 'object') throw malformed('refund', 'body');
  if (context.outRefundNo !== undefined && refund.out_refund_no !== context.outRefundNo) {
    throw malformed('refund', 'out_refund_no');
  }
  const status = REFUND_STATUS[String(refund.status ?? refund.refund_status)];
  if (!status) throw malformed('refund', 'status');
  if (!refund.out_refund_no) throw malformed('refund', 'out_refund_no');
  const refundFen = refund.amount?.refund;
  return {
    merchantId: context.merchantId,
    provider: 'wxpay',
    outRefundNo: refund.out_refund_no,
    status,
    refundId: refund.refund_id ?? null,
    refundFen: Number.isSafeInteger(refundFen) ? (refundFen as number) : null,
    successTime: status === 'SUCCESS' ? parseTime(refund.success_time) : null,
    eventId: context.eventId ?? null,
    source: context.source,
    raw: refund,
  };
}
