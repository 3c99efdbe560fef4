/**
 * App Store Server Notifications V2: `{"signedPayload": "<JWS>"}`, verified (and its signed
 * transaction with it) by the merchant's verifier; answered 200 when taken, anything else to have
 * Apple send it again (production only retries).
 */
import { isPayError, PayError } from '../../core/errors.ts';
import {
  NOTIFY_FAILURE_STATUS,
  type NotifyAck,
  type NotifyAnswer,
  type NotifyEvent,
  type StoreNotification,
} from '../provider.ts';
import type { AppleIapMerchant } from './config.ts';
import { purchaseOf } from './purchases.ts';
import type { AppleSignedDataVerifier } from './signed-data.ts';

const KINDS: Readonly<Record<string, StoreNotification['kind']>> = {
  // A consumable, non-consumable or non-renewing subscription bought.
  ONE_TIME_CHARGE: 'purchase',
  // A subscription bought (INITIAL_BUY) or bought again after it lapsed (RESUBSCRIBE).
  SUBSCRIBED: 'purchase',
  DID_RENEW: 'renewal',
  REFUND: 'refund',
  REFUND_REVERSED: 'refund_reversed',
  REVOKE: 'revoked',
  EXPIRED: 'expired',
  TEST: 'test',
};

export async function parseAppleNotify(
  merchant: AppleIapMerchant,
  verifiers: readonly AppleSignedDataVerifier[],
  rawBody: Buffer,
): Promise<NotifyEvent> {
  let signedPayload: unknown;
  try {
    signedPayload = (JSON.parse(rawBody.toString('utf8')) as { signedPayload?: unknown })?.signedPayload;
  } catch {
    throw new PayError(40001, { field: 'signedPayload', message: 'the body is not JSON' });
  }
  if (typeof signedPayload !== 'string')
    throw new PayError(40001, { field: 'signedPayload', message: 'signedPayload is missing' });
  // A production app may take sandbox purchases too: the first verifier whose environment fits.
  let lastError: unknown;
  for (const verifier of verifiers) {
    try {
      const payload = await verifier.verifyNotification(signedPayload);
      const signedTransaction = payload.data?.signedTransactionInfo;
      const transaction = signedTransaction ? await verifier.verifyTransaction(signedTransaction) : null;
      let purchase: StoreNotification['purchase'] = null;
      if (transaction) {
        try {
          purchase = purchaseOf(merchant, transaction);
        } catch (error) {
          // A product this merchant does not sell: the notification is genuine, nothing of ours moves.
          if (!isPayError(error)) throw error;
        }
      }
      return {
        kind: 'store',
        result: {
          merchantId: merchant.merchantId,
          provider: 'appleiap',
          eventId: payload.notificationUUID,
          kind: KINDS[payload.notificationType] ?? 'other',
          notificationType: payload.notificationType,
          subtype: payload.subtype ?? null,
          purchase,
          raw: { notificationType: payload.notificationType, subtype: payload.subtype ?? null, transaction },
        },
      };
    } catch (error) {
      lastError = error;
      if (!(isPayError(error) && error.gatewayCode === 'INVALID_ENVIRONMENT')) throw error;
    }
  }
  throw lastError;
}

/** Apple reads only the status: 200 takes it, 500 asks for it again (a 40x may not be retried). */
export function ackAppleNotify(answer: NotifyAnswer): NotifyAck {
  if (answer === 'accepted') return { status: 200, headers: {}, body: '' };
  return {
    status: answer === 'retry' ? 500 : NOTIFY_FAILURE_STATUS[answer],
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ok: false }),
  };
}
