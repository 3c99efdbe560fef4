/**
 * APIv2 fields onto PaymentResult and RefundResult: queries and notifications share these, so a
 * lost callback healed by a query reads the same. Times are Beijing time without a zone.
 */
import { PayError } from '../../../core/errors.ts';
import type { PaymentResult, RefundResult } from '../../provider.ts';
import { PAYMENT_STATUS } from '../operations/results.ts';
import type { XmlFields } from './xml.ts';

/** v2 refund_status words: CHANGE is the v3 ABNORMAL, REFUNDCLOSE is CLOSED. */
export const REFUND_STATUS: Readonly<Record<string, RefundResult['status']>> = {
  SUCCESS: 'SUCCESS',
  PROCESSING: 'PROCESSING',
  CHANGE: 'ABNORMAL',
  REFUNDCLOSE: 'CLOSED',
};

export function malformed(what: string, field: string): PayError {
  return new PayError(50000, {
    field,
    gatewayCode: 'MALFORMED_RESPONSE',
    message: `wxpay v2 ${what} lacks a valid ${field}`,
    details: { provider: 'wxpay', apiVersion: 'v2' },
  });
}

/** yyyyMMddHHmmss or yyyy-MM-dd HH:mm:ss in Beijing time. */
export function parseBeijingTime(value: string | undefined): Date | null {
  const match = value?.match(/^(\d{4})-?(\d{2})-?(\d{2}) ?(\d{2}):?(\d{2}):?(\d{2})$/);
  if (!match) return null;
  const [, y, mo, d, h, mi, s] = match;
  const time = new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}+08:00`);
  return Number.isNaN(time.getTime()) ? null : time;
}

/** yyyyMMddHHmmss in Beijing time. */
export function beijingCompact(date: Date): string {
  return new Date(date.getTime() + 8 * 3600_000).toISOString().slice(0, 19).replace(/[-T:]/g, '');
}

export function fenOf(value: string | undefined): number | null {
  if (value === undefined || !/^\d{1,15}$/.test(value)) return null;
  return Number(value);
}

export function toPaymentResultV2(
  fields: XmlFields,
  context: { merchantId: string; source: 'notify' | 'query'; eventId?: string | null },
): PaymentResult {
  // A notification is about a payment made: it has no trade_state, only result_code SUCCESS.
  const state = context.source === 'notify' ? 'SUCCESS' : fields.trade_state;
  const status = PAYMENT_STATUS[String(state)];
  if (!status) throw malformed('transaction', 'trade_state');
  if (!fields.out_trade_no) throw malformed('transaction', 'out_trade_no');
  const total = fenOf(fields.total_fee);
  if (total === null) throw malformed('transaction', 'total_fee');
  return {
    merchantId: context.merchantId,
    provider: 'wxpay',
    outTradeNo: fields.out_trade_no,
    transactionId: fields.transaction_id || null,
    amountFen: total,
    status,
    mchId: fields.mch_id ?? null,
    appId: fields.appid ?? null,
    paidAt: status === 'SUCCESS' ? parseBeijingTime(fields.time_end) : null,
    eventId: context.eventId ?? null,
    source: context.source,
    raw: withoutSign(fields),
  };
}

export function toRefundResultV2(
  refund: {
    outRefundNo: string;
    status: string | undefined;
    refundId?: string | undefined;
    refundFee?: string | undefined;
    successTime?: string | undefined;
  },
  context: { merchantId: string; source: RefundResult['source']; eventId?: string | null; raw: XmlFields },
): RefundResult {
  const status = REFUND_STATUS[String(refund.status)];
  if (!status) throw malformed('refund', 'refund_status');
  return {
    merchantId: context.merchantId,
    provider: 'wxpay',
    outRefundNo: refund.outRefundNo,
    status,
    refundId: refund.refundId || null,
    refundFen: fenOf(refund.refundFee),
    successTime: status === 'SUCCESS' ? parseBeijingTime(refund.successTime) : null,
    eventId: context.eventId ?? null,
    source: context.source,
    raw: withoutSign(context.raw),
  };
}

/** What is kept with the order: the fields, not the signature over them. */
function withoutSign(fields: XmlFields): XmlFields {
  const { sign: _sign, ...rest } = fields;
  return rest;
}
