/**
 * Gateway callbacks: verify the Wechatpay-* headers over the raw body, decrypt the resource with the
 * APIv3 key, and map it (TRANSACTION.SUCCESS, REFUND.SUCCESS/ABNORMAL/CLOSED) to a result. The
 * answer WeChat expects: 2xx with no body to stop resends, 4xx/5xx with {"code":"FAIL"} to get one.
 */
import { PayError } from '../../core/errors.ts';
import { NOTIFY_FAILURE_STATUS, type NotifyAck, type NotifyAnswer, type NotifyEvent } from '../provider.ts';
import { decryptResource } from './aead.ts';
import type { WxpayContext } from './context.ts';
import { toPaymentResult, toRefundResult } from './operations/results.ts';
import { type HeaderLookup, verifySignedMessage } from './verifier.ts';
import type { NotificationWire, RefundWire, TransactionWire } from './wire.ts';

type RawHeaders = Record<string, string | string[] | undefined>;

/** Case-insensitive header lookup; a repeated header is ambiguous and is not trusted. */
export function headerLookup(headers: RawHeaders): HeaderLookup {
  const lower = new Map<string, string | string[] | undefined>();
  for (const [name, value] of Object.entries(headers)) lower.set(name.toLowerCase(), value);
  return (name) => {
    const value = lower.get(name.toLowerCase());
    return typeof value === 'string' ? value : undefined;
  };
}

function reject(message: string, field?: string): PayError {
  return new PayError(40002, { message: `wxpay notification ${message}`, ...(field ? { field } : {}) });
}

function parseJson<T>(text: string, what: string): T {
  try {
    const value = JSON.parse(text) as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as T;
  } catch {
    // reported below
  }
  throw new PayError(40001, { field: 'body', message: `wxpay notification ${what} is not a JSON object` });
}

export async function parseNotify(
  context: WxpayContext,
  headers: RawHeaders,
  rawBody: Buffer,
): Promise<NotifyEvent> {
  const { merchant } = context;
  await verifySignedMessage({
    header: headerLookup(headers),
    rawBody,
    nowMs: context.now(),
    lookupKey: (serial) => context.keys.keyFor(serial),
    what: 'notification',
  });
  const envelope = parseJson<NotificationWire>(rawBody.toString('utf8'), 'body');
  const resource = envelope.resource;
  if (!resource?.ciphertext || !resource.nonce) throw reject('has no encrypted resource', 'resource');
  const plaintext = decryptResource(
    {
      ciphertext: resource.ciphertext,
      nonce: resource.nonce,
      associated_data: resource.associated_data ?? '',
      ...(resource.algorithm ? { algorithm: resource.algorithm } : {}),
    },
    merchant.apiV3Key,
    40002,
  );
  const eventType = envelope.event_type ?? '';
  const eventId = envelope.id ?? null;
  if (eventType === 'TRANSACTION.SUCCESS') {
    const transaction = parseJson<TransactionWire>(plaintext, 'resource');
    assertOwnMerchant(context, transaction);
    const result = toPaymentResult(transaction, {
      merchantId: merchant.merchantId,
      source: 'notify',
      eventId,
      partner: Boolean(context.partner),
    });
    return { kind: 'payment', result };
  }
  if (eventType.startsWith('REFUND.')) {
    const refund = parseJson<RefundWire>(plaintext, 'resource');
    assertOwnMerchant(context, refund);
    const result = toRefundResult(refund, { merchantId: merchant.merchantId, source: 'notify', eventId });
    return { kind: 'refund', result };
  }
  throw new PayError(40001, {
    field: 'event_type',
    gatewayCode: eventType.slice(0, 64) || 'EMPTY',
    message: `wxpay notification event_type ${JSON.stringify(eventType.slice(0, 64))} is not handled`,
  });
}

export function assertOwnMerchant(
  context: WxpayContext,
  resource: { mchid?: string; sp_mchid?: string; sub_mchid?: string },
): void {
  // A valid signature from the gateway for another mchid is still not a callback for this merchant.
  const { partner } = context;
  if (!partner) {
    const { mchid } = resource;
    if (mchid !== undefined && mchid !== context.merchant.mchId)
      throw reject(`is for mchid ${String(mchid).slice(0, 32)}, not ${context.merchant.mchId}`, 'mchid');
    return;
  }
  // One service provider's key signs every sub-merchant's callbacks: only sub_mchid tells whose
  // order it is, so it must be there and be this sub-merchant's.
  if (resource.sp_mchid !== undefined && resource.sp_mchid !== partner.spMchId)
    throw reject(
      `is for sp_mchid ${String(resource.sp_mchid).slice(0, 32)}, not ${partner.spMchId}`,
      'sp_mchid',
    );
  if (resource.sub_mchid !== partner.subMchId)
    throw reject(
      `is for sub_mchid ${String(resource.sub_mchid ?? '(none)').slice(0, 32)}, not ${partner.subMchId}`,
      'sub_mchid',
    );
}

export function ackNotify(answer: NotifyAnswer, error?: PayError): NotifyAck {
  if (answer === 'accepted') return { status: 204, headers: {}, body: '' };
  // Any 4xx/5xx makes WeChat resend; a 200 with FAIL would be taken as success. The status says
  // whose fault it is: WeChat Pay counts 5xx answers as the merchant's server errors.
  return {
    status: NOTIFY_FAILURE_STATUS[answer],
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ code: 'FAIL', message: (error?.spec.zh ?? '失败').slice(0, 128) }),
  };
}
