/**
 * Douyin callbacks. General trade system: the Byte-Timestamp, Byte-Nonce-Str and Byte-Signature
 * headers verified with the platform public key over the raw body, then `msg` (a JSON string) read
 * by `type` (payment, refund). Legacy guaranteed payment: msg_signature, a SHA-1 of the sorted
 * token, timestamp, nonce and msg, checked in constant time. Answer: {"err_no":0,"err_tips":"success"}.
 */
import { PayError } from '../../core/errors.ts';
import { NOTIFY_FAILURE_STATUS, type NotifyAck, type NotifyAnswer, type NotifyEvent } from '../provider.ts';
import type { EcpayMerchant, TradeMerchant } from './config.ts';
import type { DouyinContext } from './context.ts';
import {
  ecpayCallbackResult,
  ecpayRefundCallbackResult,
  tradeCallbackResult,
  tradeRefundResult,
} from './operations/results.ts';
import { ecpayMsgSignature, platformSigningString, rsaVerify, sameText } from './sign.ts';
import type { EcpayPaymentMsg, EcpayRefundMsg, TradePaymentMsg, TradeRefundWire } from './wire.ts';

type RawHeaders = Record<string, string | string[] | undefined>;

function header(headers: RawHeaders, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    // A repeated header is ambiguous and is not trusted.
    if (key.toLowerCase() === name) return typeof value === 'string' ? value : undefined;
  }
  return undefined;
}

function refuse(message: string, field?: string): PayError {
  return new PayError(40002, { message: `douyin callback ${message}`, ...(field ? { field } : {}) });
}

function jsonObject<T>(text: string, what: string): T {
  try {
    const value = JSON.parse(text) as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as T;
  } catch {
    // reported below
  }
  throw new PayError(40001, { field: what, message: `douyin callback ${what} is not a JSON object` });
}

function assertOwnApp(appId: string | undefined, expected: string): void {
  // Signed by the platform for another app is still not a callback for this one.
  if (appId !== expected) throw refuse(`is for app ${String(appId).slice(0, 32)}, not ${expected}`, 'app_id');
}

export function parseNotify(context: DouyinContext, headers: RawHeaders, rawBody: Buffer): NotifyEvent {
  return context.merchant.api === 'ecpay'
    ? parseEcpayNotify(context.merchant, rawBody)
    : parseTradeNotify(context.merchant, headers, rawBody);
}

function parseTradeNotify(merchant: TradeMerchant, headers: RawHeaders, rawBody: Buffer): NotifyEvent {
  const signature = header(headers, 'byte-signature');
  const timestamp = header(headers, 'byte-timestamp');
  const nonce = header(headers, 'byte-nonce-str');
  if (!signature || !timestamp || !nonce)
    throw refuse('has no Byte-Signature, Byte-Timestamp or Byte-Nonce-Str');
  const body = rawBody.toString('utf8');
  if (!rsaVerify(merchant.platformPublicKey, platformSigningString(timestamp, nonce, body), signature))
    throw refuse('signature does not verify with the platform public key', 'Byte-Signature');
  const envelope = jsonObject<{ msg?: unknown; type?: unknown }>(body, 'body');
  if (typeof envelope.msg !== 'string')
    throw new PayError(40001, { field: 'msg', message: 'douyin callback has no msg' });
  const base = { merchantId: merchant.merchantId, appId: merchant.appId };
  if (envelope.type === 'payment') {
    const msg = jsonObject<TradePaymentMsg>(envelope.msg, 'msg');
    assertOwnApp(msg.app_id, merchant.appId);
    return { kind: 'payment', result: tradeCallbackResult(msg, base) };
  }
  if (envelope.type === 'refund') {
    const msg = jsonObject<TradeRefundWire>(envelope.msg, 'msg');
    assertOwnApp(msg.app_id, merchant.appId);
    return { kind: 'refund', result: tradeRefundResult(msg, { ...base, source: 'notify' }) };
  }
  throw new PayError(40001, {
    field: 'type',
    gatewayCode: String(envelope.type).slice(0, 32),
    message: `douyin callback type ${JSON.stringify(String(envelope.type).slice(0, 32))} is not handled`,
  });
}

function parseEcpayNotify(merchant: EcpayMerchant, rawBody: Buffer): NotifyEvent {
  const body = jsonObject<Record<string, unknown>>(rawBody.toString('utf8'), 'body');
  const { timestamp, nonce, msg, type, msg_signature: signature } = body;
  if (typeof msg !== 'string' || typeof signature !== 'string')
    throw refuse('has no msg or msg_signature', 'msg_signature');
  const expected = ecpayMsgSignature(merchant.token, String(timestamp ?? ''), String(nonce ?? ''), msg);
  if (!sameText(expected, signature))
    throw refuse('msg_signature does not verify with the token', 'msg_signature');
  const base = { merchantId: merchant.merchantId, appId: merchant.appId };
  if (type === 'payment') {
    const payment = jsonObject<EcpayPaymentMsg>(msg, 'msg');
    assertOwnApp(payment.appid, merchant.appId);
    return { kind: 'payment', result: ecpayCallbackResult(payment, base) };
  }
  if (type === 'refund') {
    const refund = jsonObject<EcpayRefundMsg>(msg, 'msg');
    assertOwnApp(refund.appid, merchant.appId);
    return { kind: 'refund', result: ecpayRefundCallbackResult(refund, base) };
  }
  throw new PayError(40001, {
    field: 'type',
    message: `douyin ecpay callback type ${JSON.stringify(String(type).slice(0, 32))} is not handled`,
  });
}

export function ackNotify(answer: NotifyAnswer, error?: PayError): NotifyAck {
  const headers = { 'Content-Type': 'application/json' };
  if (answer === 'accepted') return { status: 200, headers, body: '{"err_no":0,"err_tips":"success"}' };
  // Anything but err_no 0 makes the platform send the callback again.
  return {
    status: NOTIFY_FAILURE_STATUS[answer],
    headers,
    body: JSON.stringify({ err_no: 1, err_tips: (error?.spec.zh ?? '失败').slice(0, 128) }),
  };
}
