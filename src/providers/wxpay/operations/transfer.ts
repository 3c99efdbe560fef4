/**
 * 商家转账 (merchant transfer to a user's WeChat wallet), the current API:
 * POST /v3/fund-app/mch-transfer/transfer-bills, query by out_bill_no, cancel, and the
 * MCHTRANSFER.BILL.FINISHED notification. The payee's real name (user_name) is encrypted with
 * WeChat Pay's public key (RSA-OAEP) and Wechatpay-Serial names that key; it and the openid exist
 * in clear text only in this call's arguments and are never part of a result.
 */
import { PayError } from '../../../core/errors.ts';
import type { GatewayTransferStatus } from '../../../core/transfer-states.ts';
import type { NotifyAck, NotifyAnswer } from '../../provider.ts';
import type { TransferOperations, TransferQuery, TransferRequest, TransferResult } from '../../transfer.ts';
import { decryptResource } from '../aead.ts';
import { segment, type WxpayContext } from '../context.ts';
import { ackNotify, headerLookup } from '../notify.ts';
import { verifySignedMessage } from '../verifier.ts';
import type { NotificationWire } from '../wire.ts';
import { encryptSensitive } from './abnormal-refund.ts';

/** The bill as WeChat answers a create, a query, a cancel or a notification (only the fields we read). */
export interface TransferBillWire {
  mch_id?: string;
  out_bill_no?: string;
  transfer_bill_no?: string;
  state?: string;
  transfer_amount?: number;
  package_info?: string;
  fail_reason?: string;
  create_time?: string;
  update_time?: string;
}

/**
 * ACCEPTED (单据已受理), PROCESSING (转账中), TRANSFERING (转账中), WAIT_USER_CONFIRM (待收款用户确认),
 * CANCELING (撤销中): the gateway holds it and has not finished; SUCCESS, FAIL, CANCELLED: final.
 */
const STATES: Readonly<Record<string, GatewayTransferStatus>> = {
  ACCEPTED: 'PROCESSING',
  PROCESSING: 'PROCESSING',
  TRANSFERING: 'PROCESSING',
  CANCELING: 'PROCESSING',
  WAIT_USER_CONFIRM: 'WAIT_USER_CONFIRM',
  SUCCESS: 'SUCCESS',
  FAIL: 'FAILED',
  CANCELLED: 'CANCELLED',
};

export function toTransferResult(
  bill: TransferBillWire | null,
  where: {
    merchantId: string;
    outTransferNo: string;
    source: TransferResult['source'];
    eventId?: string | null;
  },
): TransferResult {
  const status = bill?.state ? STATES[bill.state] : undefined;
  if (!bill || !status)
    throw new PayError(50000, {
      message: `wxpay transfer: unknown state ${JSON.stringify(bill?.state ?? null).slice(0, 40)}`,
      outcomeUnknown: where.source === 'request',
    });
  if (bill.out_bill_no !== undefined && bill.out_bill_no !== where.outTransferNo)
    throw new PayError(40002, {
      field: 'out_bill_no',
      message: `wxpay transfer answer is for ${bill.out_bill_no.slice(0, 40)}, not ${where.outTransferNo}`,
    });
  return {
    merchantId: where.merchantId,
    provider: 'wxpay',
    outTransferNo: where.outTransferNo,
    status,
    transferId: bill.transfer_bill_no ?? null,
    amountFen: typeof bill.transfer_amount === 'number' ? bill.transfer_amount : null,
    packageInfo: bill.package_info ?? null,
    failReason: bill.fail_reason ?? null,
    successTime: status === 'SUCCESS' && bill.update_time ? new Date(bill.update_time) : null,
    eventId: where.eventId ?? null,
    source: where.source,
  };
}

export async function transferToUser(
  context: WxpayContext,
  request: TransferRequest,
): Promise<TransferResult> {
  if (request.payee.identityType !== 'OPENID')
    throw new PayError(40001, {
      field: 'payee.identity_type',
      message: 'a WeChat Pay transfer goes to an OPENID under the merchant app',
    });
  if (!request.sceneId)
    throw new PayError(40001, {
      field: 'scene_id',
      message: 'a WeChat Pay transfer needs a transfer_scene_id',
    });
  const body: Record<string, unknown> = {
    appid: context.merchant.appId,
    out_bill_no: request.outTransferNo,
    transfer_scene_id: request.sceneId,
    openid: request.payee.identity,
    transfer_amount: request.amountFen,
    transfer_remark: request.remark,
    notify_url: request.notifyUrl,
    transfer_scene_report_infos: (request.sceneReportInfos ?? []).map((info) => ({
      info_type: info.infoType,
      info_content: info.infoContent,
    })),
  };
  if (request.userRecvPerception) body.user_recv_perception = request.userRecvPerception;
  let serial: string | undefined;
  if (request.payee.name) {
    const encryption = await context.keys.encryptionKey();
    serial = encryption.serial;
    body.user_name = encryptSensitive(encryption.key, request.payee.name);
  }
  const reply = await context.transport.call<TransferBillWire>({
    api: 'transfer',
    method: 'POST',
    path: '/v3/fund-app/mch-transfer/transfer-bills',
    body,
    write: true,
    ...(serial ? { serial } : {}),
  });
  return toTransferResult(reply.data, {
    merchantId: request.merchantId,
    outTransferNo: request.outTransferNo,
    source: 'request',
  });
}

export async function queryTransferBill(
  context: WxpayContext,
  query: TransferQuery,
): Promise<TransferResult> {
  const reply = await context.transport.call<TransferBillWire>({
    api: 'transfer.query',
    method: 'GET',
    path: `/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/${segment(query.outTransferNo)}`,
    write: false,
  });
  return toTransferResult(reply.data, {
    merchantId: query.merchantId,
    outTransferNo: query.outTransferNo,
    source: 'query',
  });
}

export async function cancelTransferBill(
  context: WxpayContext,
  query: TransferQuery,
): Promise<TransferResult> {
  const reply = await context.transport.call<TransferBillWire>({
    api: 'transfer.cancel',
    method: 'POST',
    path: `/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/${segment(query.outTransferNo)}/cancel`,
    write: true,
  });
  return toTransferResult(reply.data, {
    merchantId: query.merchantId,
    outTransferNo: query.outTransferNo,
    source: 'request',
  });
}

/** MCHTRANSFER.BILL.FINISHED: verified over the raw body, resource decrypted with the APIv3 key. */
export async function parseTransferNotify(
  context: WxpayContext,
  headers: Record<string, string | string[] | undefined>,
  rawBody: Buffer,
): Promise<TransferResult> {
  await verifySignedMessage({
    header: headerLookup(headers),
    rawBody,
    nowMs: context.now(),
    lookupKey: (serial) => context.keys.keyFor(serial),
    what: 'transfer notification',
  });
  let envelope: NotificationWire;
  try {
    envelope = JSON.parse(rawBody.toString('utf8')) as NotificationWire;
  } catch {
    throw new PayError(40001, { field: 'body', message: 'wxpay transfer notification is not JSON' });
  }
  if (envelope.event_type !== 'MCHTRANSFER.BILL.FINISHED' || !envelope.resource?.ciphertext)
    throw new PayError(40001, {
      field: 'event_type',
      message: `wxpay transfer notification of type ${String(envelope.event_type).slice(0, 40)}`,
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
  const bill = JSON.parse(plaintext) as TransferBillWire;
  if (bill.mch_id !== undefined && bill.mch_id !== context.merchant.mchId)
    throw new PayError(40002, {
      field: 'mch_id',
      message: 'wxpay transfer notification for another merchant',
    });
  if (!bill.out_bill_no) throw new PayError(40001, { field: 'out_bill_no', message: 'no out_bill_no' });
  return toTransferResult(bill, {
    merchantId: context.merchant.merchantId,
    outTransferNo: bill.out_bill_no,
    source: 'notify',
    eventId: envelope.id ?? null,
  });
}

/** The operations over the APIv3 context of a merchant's account. */
export function wxpayTransferOperations(
  contextFor: (merchantId: string, account: string | undefined) => WxpayContext,
): TransferOperations {
  return {
    identityTypes: ['OPENID'],
    transfer: async (request) => transferToUser(contextFor(request.merchantId, request.account), request),
    queryTransfer: async (query) => queryTransferBill(contextFor(query.merchantId, query.account), query),
    cancelTransfer: async (query) => cancelTransferBill(contextFor(query.merchantId, query.account), query),
    parseTransferNotify: async (merchantId, headers, rawBody, account) =>
      parseTransferNotify(contextFor(merchantId, account), headers, rawBody),
    ackTransferNotify: (answer: NotifyAnswer): NotifyAck => ackNotify(answer),
  };
}
