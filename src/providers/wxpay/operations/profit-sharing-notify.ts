/**
 * PROFITSHARING.SUCCESS and PROFITSHARING.CLOSED: one receiver's line of a split, paid or closed.
 * Sent to the profit-sharing notify URL set on the merchant platform, signed and encrypted like
 * payment notifications.
 */
import { PayError } from '../../../core/errors.ts';
import type { SplitNotification, SplitReceiverType } from '../../profit-sharing.ts';
import { decryptResource } from '../aead.ts';
import type { WxpayContext } from '../context.ts';
import { assertOwnMerchant, headerLookup } from '../notify.ts';
import { verifySignedMessage } from '../verifier.ts';
import type { NotificationWire } from '../wire.ts';

/** The decrypted resource (only the fields we read). */
interface SplitNotifyWire {
  mchid?: string;
  sp_mchid?: string;
  sub_mchid?: string;
  transaction_id?: string;
  order_id?: string;
  out_order_no?: string;
  receiver?: {
    type?: string;
    account?: string;
    amount?: number;
    description?: string;
    detail_id?: string;
  };
  success_time?: string;
}

const RESULT_OF_EVENT: Readonly<Record<string, 'SUCCESS' | 'CLOSED'>> = {
  'PROFITSHARING.SUCCESS': 'SUCCESS',
  'PROFITSHARING.CLOSED': 'CLOSED',
};

function notJson(what: string): PayError {
  return new PayError(40001, { field: 'body', message: `wxpay split notification ${what} is not JSON` });
}

export async function parseSplitNotify(
  context: WxpayContext,
  headers: Record<string, string | string[] | undefined>,
  rawBody: Buffer,
): Promise<SplitNotification> {
  await verifySignedMessage({
    header: headerLookup(headers),
    rawBody,
    nowMs: context.now(),
    lookupKey: (serial) => context.keys.keyFor(serial),
    what: 'split notification',
  });
  let envelope: NotificationWire;
  try {
    envelope = JSON.parse(rawBody.toString('utf8')) as NotificationWire;
  } catch {
    throw notJson('body');
  }
  const result = RESULT_OF_EVENT[envelope.event_type ?? ''];
  if (!result || !envelope.resource?.ciphertext)
    throw new PayError(40001, {
      field: 'event_type',
      gatewayCode: String(envelope.event_type ?? 'EMPTY').slice(0, 64),
      message: `wxpay split notification of type ${String(envelope.event_type).slice(0, 40)}`,
    });
  const plaintext = decryptResource(
    {
      ciphertext: envelope.resource.ciphertext,
      nonce: envelope.resource.nonce ?? '',
      associated_data: envelope.resource.associated_data ?? '',
      ...(envelope.resource.algorithm ? { algorithm: envelope.resource.algorithm } : {}),
    },
    context.merchant.apiV3Key,
    40002,
  );
  let resource: SplitNotifyWire;
  try {
    resource = JSON.parse(plaintext) as SplitNotifyWire;
  } catch {
    throw notJson('resource');
  }
  assertOwnMerchant(context, resource);
  const receiver = resource.receiver;
  if (!resource.out_order_no)
    throw new PayError(40001, {
      field: 'out_order_no',
      message: 'wxpay split notification has no out_order_no',
    });
  if (!receiver?.type || !receiver.account || typeof receiver.amount !== 'number')
    throw new PayError(40001, { field: 'receiver', message: 'wxpay split notification has no receiver' });
  return {
    merchantId: context.merchant.merchantId,
    provider: 'wxpay',
    outSplitNo: resource.out_order_no,
    transactionId: resource.transaction_id ?? null,
    splitId: resource.order_id ?? null,
    lines: [
      {
        type: receiver.type as SplitReceiverType,
        account: receiver.account,
        amountFen: receiver.amount,
        description: receiver.description ?? '',
        result,
        failReason: null,
        detailId: receiver.detail_id ?? null,
        finishedAt: resource.success_time ? new Date(resource.success_time) : null,
      },
    ],
    eventId: envelope.id ?? null,
  };
}
