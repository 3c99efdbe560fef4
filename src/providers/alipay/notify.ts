/**
 * Gateway callbacks (C.7): the form-encoded notification is decoded once, verified with RSA2 over
 * the sorted fields without sign and sign_type, checked to be for this merchant's app and younger
 * than Alipay's resend window, and mapped to a payment or refund result. The browser's return_url is verified the same way, but it is
 * never proof of payment: only a notification or a query is.
 */
import { PayError } from '../../core/errors.ts';
import type { Fen } from '../../core/money.ts';
import type { RefundResult } from '../provider.ts';
import { NOTIFY_FAILURE_STATUS, type NotifyAck, type NotifyAnswer, type NotifyEvent } from '../provider.ts';
import type { AlipayMerchant } from './config.ts';
import type { AlipayContext } from './context.ts';
import { decodeForm, formCharset } from './form.ts';
import { fenOf, toPaymentResult } from './operations/results.ts';
import { notifySigningStrings, parseBeijingTime, verifyRsa2 } from './sign.ts';

type RawHeaders = Record<string, string | string[] | undefined>;

function reject(what: string, message: string, field: string): PayError {
  return new PayError(40002, { field, message: `alipay ${what} ${message}` });
}

export function headerValue(headers: RawHeaders, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return typeof value === 'string' ? value : undefined;
  }
  return undefined;
}

/** Verifies signed callback fields and that they are for this merchant; returns them without sign. */
export function verifyCallbackFields(
  merchant: AlipayMerchant,
  fields: Record<string, string>,
  what: string,
): Record<string, string> {
  const { sign, ...unsigned } = fields;
  if (!sign) throw reject(what, 'carries no sign', 'sign');
  // Only RSA2 is accepted: the legacy SHA1 "RSA" type would let a downgraded message through.
  if (fields.sign_type !== undefined && fields.sign_type !== 'RSA2') {
    throw reject(
      what,
      `has sign_type ${JSON.stringify(fields.sign_type.slice(0, 16))}, not RSA2`,
      'sign_type',
    );
  }
  // Callbacks name no certificate: in certificate mode every key learnt so far may have signed it.
  const keys = merchant.keyring ? merchant.keyring.keys() : [merchant.alipayPublicKey];
  const verifies = notifySigningStrings(fields).some((content) =>
    keys.some((key) => verifyRsa2(key, content, sign)),
  );
  if (!verifies) throw reject(what, 'signature does not verify', 'sign');
  // A genuine Alipay signature for another app or seller is still not a callback for this merchant.
  if (fields.app_id !== merchant.appId) throw reject(what, 'is for another app_id', 'app_id');
  if (merchant.sellerId && fields.seller_id && fields.seller_id !== merchant.sellerId) {
    throw reject(what, 'is for another seller_id', 'seller_id');
  }
  return unsigned;
}

const present = (value: string | undefined): value is string => value !== undefined && value !== '';

/** Refund notifications carry gmt_refund / refund_fee, and out_biz_no = the refund's out_request_no. */
function isRefundNotification(fields: Record<string, string>): boolean {
  if (present(fields.gmt_refund)) return true;
  if (!present(fields.refund_fee)) return false;
  return fenOf(fields.refund_fee, 'refund_fee', 'notification') > 0;
}

function toRefundNotification(
  merchant: AlipayMerchant,
  fields: Record<string, string>,
): RefundResult & { cumulativeRefundFen: Fen | null } {
  if (!present(fields.out_biz_no)) {
    throw new PayError(40001, {
      field: 'out_biz_no',
      message: 'alipay refund notification has no out_biz_no',
    });
  }
  return {
    merchantId: merchant.merchantId,
    provider: 'alipay',
    outRefundNo: fields.out_biz_no,
    // Alipay notifies refunds only once they succeeded.
    status: 'SUCCESS',
    refundId: fields.trade_no ?? null,
    // refund_fee is the trade's cumulative refunded amount, not this refund's: left for the service.
    refundFen: null,
    successTime: parseBeijingTime(fields.gmt_refund),
    eventId: fields.notify_id ?? null,
    source: 'notify',
    raw: fields,
    cumulativeRefundFen: present(fields.refund_fee)
      ? fenOf(fields.refund_fee, 'refund_fee', 'notification')
      : null,
  };
}

export async function parseNotify(
  context: AlipayContext,
  headers: RawHeaders,
  rawBody: Buffer,
): Promise<NotifyEvent> {
  const { merchant } = context;
  const fields = decodeForm(rawBody, formCharset(headerValue(headers, 'content-type'), rawBody));
  const unsigned = verifyCallbackFields(merchant, fields, 'notification');
  assertFresh(merchant, unsigned.notify_time, context.now());
  if (isRefundNotification(unsigned)) {
    const { cumulativeRefundFen: _cumulative, ...result } = toRefundNotification(merchant, unsigned);
    return { kind: 'refund', result };
  }
  const result = toPaymentResult(unsigned, {
    merchant,
    source: 'notify',
    eventId: unsigned.notify_id ?? null,
    appId: unsigned.app_id ?? null,
  });
  return { kind: 'payment', result };
}

/**
 * Alipay stops resending a notification about 24 h 24 min after its first send: one older than the
 * window can only be a replay of a captured one, however well signed. Signed fields cannot be
 * removed, so one that carries no notify_time was sent that way by Alipay.
 */
export function assertFresh(merchant: AlipayMerchant, notifyTime: string | undefined, nowMs: number): void {
  if (notifyTime === undefined) return;
  const sentAt = parseBeijingTime(notifyTime);
  if (!sentAt) {
    throw new PayError(40001, {
      field: 'notify_time',
      message: `alipay notification notify_time ${JSON.stringify(notifyTime.slice(0, 32))} is not a Beijing time`,
    });
  }
  if (nowMs - sentAt.getTime() > merchant.notifyMaxAgeHours * 3_600_000) {
    throw new PayError(40002, {
      field: 'notify_time',
      message: `alipay notification notify_time ${notifyTime} is older than the ${merchant.notifyMaxAgeHours} h resend window: refused as a replay`,
    });
  }
}

/** Alipay stops resending only on a body of exactly `success`; anything else asks for another send. */
export function ackNotify(answer: NotifyAnswer): NotifyAck {
  return {
    status: answer === 'accepted' ? 200 : NOTIFY_FAILURE_STATUS[answer],
    headers: { 'Content-Type': 'text/plain; charset=utf-8' },
    body: answer === 'accepted' ? 'success' : 'fail',
  };
}

/** What a verified return_url says. It shows where the browser came from, not that money moved. */
export interface AlipayReturn {
  merchantId: string;
  outTradeNo: string;
  transactionId: string | null;
  amountFen: Fen;
  appId: string;
  sellerId: string | null;
  /** Always false: confirm the payment by notification or query before fulfilling the order. */
  proofOfPayment: false;
  raw: Record<string, string>;
}

export type ReturnQuery = string | URLSearchParams | Readonly<Record<string, string>>;

function returnFields(query: ReturnQuery): Record<string, string> {
  if (typeof query === 'string' || query instanceof URLSearchParams) {
    const search = typeof query === 'string' ? new URLSearchParams(query.replace(/^[^?]*\?/, '')) : query;
    const fields: Record<string, string> = {};
    for (const [key, value] of search) {
      if (key in fields) throw reject('return_url', `repeats ${key.slice(0, 64)}`, key);
      fields[key] = value;
    }
    return fields;
  }
  return { ...query };
}

export function verifyReturn(merchant: AlipayMerchant, query: ReturnQuery): AlipayReturn {
  const fields = verifyCallbackFields(merchant, returnFields(query), 'return_url');
  if (!present(fields.out_trade_no)) {
    throw new PayError(40001, { field: 'out_trade_no', message: 'alipay return_url has no out_trade_no' });
  }
  return {
    merchantId: merchant.merchantId,
    outTradeNo: fields.out_trade_no,
    transactionId: fields.trade_no ?? null,
    amountFen: fenOf(fields.total_amount, 'total_amount', 'return_url'),
    appId: merchant.appId,
    sellerId: fields.seller_id ?? null,
    proofOfPayment: false,
    raw: fields,
  };
}
