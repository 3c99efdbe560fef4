/** Douyin's answers and callbacks -> our PaymentResult and RefundResult. */
import { PayError } from '../../../core/errors.ts';
import type { PaymentResult, RefundResult } from '../../provider.ts';
import type {
  EcpayPaymentInfo,
  EcpayPaymentMsg,
  EcpayRefundMsg,
  TradeOrderWire,
  TradePaymentMsg,
  TradeRefundWire,
} from '../wire.ts';

function malformed(what: string, field: string): PayError {
  return new PayError(50000, {
    field,
    gatewayCode: 'MALFORMED_ANSWER',
    message: `douyin ${what} has no valid ${field}`,
  });
}

function fen(value: unknown, what: string, field: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) throw malformed(what, field);
  return value as number;
}

/** "yyyy-MM-dd HH:mm:ss" in China time (UTC+8), as Douyin writes times. */
export function chinaTime(text: string | undefined): Date | null {
  const match = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(text ?? '');
  if (!match) return null;
  const [, y, mo, d, h, mi, s] = match.map(Number) as number[];
  return new Date(Date.UTC(y!, mo! - 1, d!, h! - 8, mi!, s!));
}

const TRADE_PAY_STATUS: Readonly<Record<string, PaymentResult['status']>> = {
  SUCCESS: 'SUCCESS',
  PROCESS: 'NOTPAY',
  FAIL: 'NOTPAY',
  TIMEOUT: 'CLOSED',
};

const REFUND_STATUS: Readonly<Record<string, RefundResult['status']>> = {
  PROCESSING: 'PROCESSING',
  SUCCESS: 'SUCCESS',
  FAIL: 'CLOSED',
  FAILURE: 'CLOSED',
};

interface Base {
  merchantId: string;
  appId: string;
}

export function tradeQueryResult(order: TradeOrderWire, base: Base): PaymentResult {
  const status = TRADE_PAY_STATUS[String(order.pay_status)];
  if (!status) throw malformed('order', 'pay_status');
  if (!order.out_order_no) throw malformed('order', 'out_order_no');
  return {
    merchantId: base.merchantId,
    provider: 'douyin',
    outTradeNo: order.out_order_no,
    transactionId: order.order_id || null,
    amountFen: fen(order.total_amount, 'order', 'total_amount'),
    status,
    appId: base.appId,
    paidAt: status === 'SUCCESS' ? chinaTime(order.pay_time) : null,
    source: 'query',
    raw: order,
  };
}

export function tradeCallbackResult(msg: TradePaymentMsg, base: Base): PaymentResult {
  // CANCEL: the order timed out or was cancelled unpaid; it can no longer be paid.
  const status = msg.status === 'SUCCESS' ? 'SUCCESS' : msg.status === 'CANCEL' ? 'CLOSED' : null;
  if (!status)
    throw new PayError(40001, { field: 'status', message: 'douyin payment callback status is unknown' });
  if (!msg.out_order_no)
    throw new PayError(40001, {
      field: 'out_order_no',
      message: 'douyin payment callback has no out_order_no',
    });
  return {
    merchantId: base.merchantId,
    provider: 'douyin',
    outTradeNo: msg.out_order_no,
    transactionId: msg.order_id || null,
    amountFen: fen(msg.total_amount, 'payment callback', 'total_amount'),
    status,
    appId: msg.app_id ?? null,
    paidAt:
      status === 'SUCCESS' && Number.isFinite(msg.event_time) ? new Date(msg.event_time as number) : null,
    source: 'notify',
    raw: msg,
  };
}

export function tradeRefundResult(
  refund: TradeRefundWire,
  base: Base & { source: RefundResult['source'] },
): RefundResult {
  const status = REFUND_STATUS[String(refund.refund_status ?? refund.status)];
  if (!status) throw malformed('refund', 'refund_status');
  if (!refund.out_refund_no) throw malformed('refund', 'out_refund_no');
  const at = refund.event_time ?? (refund.refund_at ? refund.refund_at * 1000 : undefined);
  return {
    merchantId: base.merchantId,
    provider: 'douyin',
    outRefundNo: refund.out_refund_no,
    status,
    refundId: refund.refund_id ?? null,
    refundFen: fen(refund.refund_total_amount, 'refund', 'refund_total_amount'),
    successTime: status === 'SUCCESS' && at ? new Date(at) : null,
    source: base.source,
    raw: refund,
  };
}

const ECPAY_PAY_STATUS: Readonly<Record<string, PaymentResult['status']>> = {
  SUCCESS: 'SUCCESS',
  PROCESSING: 'NOTPAY',
  FAIL: 'NOTPAY',
  TIMEOUT: 'CLOSED',
};

export function ecpayQueryResult(
  answer: { out_order_no?: string; order_id?: string; payment_info?: EcpayPaymentInfo },
  base: Base,
): PaymentResult {
  const info = answer.payment_info ?? {};
  const status = ECPAY_PAY_STATUS[String(info.order_status)];
  if (!status) throw malformed('order', 'order_status');
  if (!answer.out_order_no) throw malformed('order', 'out_order_no');
  return {
    merchantId: base.merchantId,
    provider: 'douyin',
    outTradeNo: answer.out_order_no,
    transactionId: answer.order_id || null,
    amountFen: fen(info.total_fee, 'order', 'total_fee'),
    status,
    appId: base.appId,
    paidAt: status === 'SUCCESS' ? chinaTime(info.pay_time) : null,
    source: 'query',
    raw: answer,
  };
}

export function ecpayCallbackResult(msg: EcpayPaymentMsg, base: Base): PaymentResult {
  if (msg.status !== 'SUCCESS')
    throw new PayError(40001, {
      field: 'status',
      message: 'douyin ecpay payment callback status is unknown',
    });
  if (!msg.cp_orderno)
    throw new PayError(40001, {
      field: 'cp_orderno',
      message: 'douyin ecpay payment callback has no cp_orderno',
    });
  return {
    merchantId: base.merchantId,
    provider: 'douyin',
    outTradeNo: msg.cp_orderno,
    transactionId: msg.order_id || null,
    amountFen: fen(msg.total_amount, 'payment callback', 'total_amount'),
    status: 'SUCCESS',
    appId: msg.appid ?? null,
    paidAt: Number.isFinite(msg.paid_at) ? new Date((msg.paid_at as number) * 1000) : null,
    source: 'notify',
    raw: msg,
  };
}

export function ecpayRefundResult(
  refund: {
    out_refund_no: string;
    refund_no?: string;
    refund_amount?: number;
    refund_status?: string;
    refunded_at?: number;
  },
  base: Base & { source: RefundResult['source'] },
): RefundResult {
  const status = REFUND_STATUS[String(refund.refund_status)];
  if (!status) throw malformed('refund', 'refund_status');
  return {
    merchantId: base.merchantId,
    provider: 'douyin',
    outRefundNo: refund.out_refund_no,
    status,
    refundId: refund.refund_no ?? null,
    refundFen: fen(refund.refund_amount, 'refund', 'refund_amount'),
    successTime: status === 'SUCCESS' && refund.refunded_at ? new Date(refund.refunded_at * 1000) : null,
    source: base.source,
    raw: refund,
  };
}

export function ecpayRefundCallbackResult(msg: EcpayRefundMsg, base: Base): RefundResult {
  if (!msg.cp_refundno)
    throw new PayError(40001, {
      field: 'cp_refundno',
      message: 'douyin ecpay refund callback has no cp_refundno',
    });
  return ecpayRefundResult(
    {
      out_refund_no: msg.cp_refundno,
      ...(msg.refund_no ? { refund_no: msg.refund_no } : {}),
      ...(msg.refund_amount !== undefined ? { refund_amount: msg.refund_amount } : {}),
      refund_status: msg.status ?? '',
      ...(msg.refunded_at ? { refunded_at: msg.refunded_at } : {}),
    },
    { ...base, source: 'notify' },
  );
}
