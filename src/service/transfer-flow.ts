/**
 * Transfers at the gateway: reserve here first (limits, approval), claim the transfer for sending
 * so one request reaches the gateway, then apply its answer. A request whose answer is lost leaves
 * the transfer UNKNOWN: it is settled by a query with the same number, and sent again only with
 * that same number, and only when the gateway says it never received it.
 */

import { sql } from 'kysely';
import { isPayError, PayError } from '../core/errors.ts';
import type { NotifyAck } from '../providers/provider.ts';
import type { TransferOperations, TransferResult } from '../providers/transfer.ts';
import type { TransferRow } from '../store/schema.ts';
import { findTransfer } from '../store/transfers.ts';
import type { ServiceContext, WithChange } from './context.ts';
import { gatewayCall, providerFor } from './gateway-call.ts';
import {
  applyTransferResult,
  type CreatedTransfer,
  type CreateTransferRequest,
  claimForSending,
  createTransfer,
  decideTransfer,
  getTransfer,
  openPayee,
  type Transfer,
  type TransferDecision,
  toTransfer,
  transferSettingsOf,
} from './transfers.ts';
import { handleVerifiedNotify, type VerifiedNotifyRequest } from './verified-notify.ts';

/** The gateway's transfer operations; 40001 for a gateway without them. */
export function transferOperations(context: ServiceContext, providerName: string): TransferOperations {
  const provider = providerFor(context, providerName);
  if (!provider.transfers)
    throw new PayError(40001, { field: 'provider', message: `${providerName} has no transfers` });
  return provider.transfers;
}

/** Where the gateway sends transfer notifications: {publicUrl}/notify-transfer/{provider}/{merchant}[/{account}]. */
export function transferNotifyUrl(
  context: ServiceContext,
  provider: string,
  merchantId: string,
  account = 'default',
): string {
  const base = `${context.publicUrl.replace(/\/+$/, '')}/notify-transfer/${provider}/${encodeURIComponent(merchantId)}`;
  return account === 'default' ? base : `${base}/${encodeURIComponent(account)}`;
}

/** Refusals that are final for a transfer request: bad request, no payee, balance short, no permission. */
const FINAL_REFUSAL_CODES: readonly number[] = [40001, 40005, 40007, 40009];

function isFinalRefusal(error: unknown): error is PayError {
  return (
    error instanceof PayError &&
    !error.outcomeUnknown &&
    !error.retryable &&
    typeof error.gatewayCode === 'string' &&
    error.gatewayCode.length > 0 &&
    FINAL_REFUSAL_CODES.includes(error.code)
  );
}

/**
 * Creates the transfer (idempotent on out_transfer_no) and, when it needs no approval, sends it.
 * Answers the transfer as it stands: APPROVED/UNKNOWN/PROCESSING... never a second gateway call for
 * a number already asked for.
 */
export async function transfer(
  context: ServiceContext,
  request: CreateTransferRequest,
  withCreated?: WithChange<CreatedTransfer>,
): Promise<CreatedTransfer> {
  const operations = transferOperations(context, request.provider);
  const account = request.account ?? 'default';
  const accounts = providerFor(context, request.provider).accounts?.(request.merchantId);
  if (accounts && !accounts.includes(account))
    throw new PayError(40001, {
      field: 'account',
      message: `merchant ${request.merchantId} has no ${request.provider} account ${account}`,
    });
  if (!operations.identityTypes.includes(request.payee?.identityType))
    throw new PayError(40001, {
      field: 'payee.identity_type',
      message: `${request.provider} transfers go to ${operations.identityTypes.join(' or ')}`,
    });
  const created = await createTransfer(context, request, withCreated);
  if (!created.created || created.transfer.status !== 'APPROVED') return created;
  return { transfer: await sendTransfer(context, request.merchantId, request.outTransferNo), created: true };
}

/** Approves or rejects a transfer awaiting approval; an approved one is sent at once. */
export async function decide(
  context: ServiceContext,
  decision: TransferDecision,
  withDecision?: WithChange<Transfer>,
): Promise<Transfer> {
  const decided = await decideTransfer(context, decision, withDecision);
  if (decided.status !== 'APPROVED') return decided;
  try {
    return await sendTransfer(context, decision.merchantId, decision.outTransferNo);
  } catch (error) {
    // The approval stands: an APPROVED transfer not sent now is sent by the background job.
    context.logger.warn(
      { outTransferNo: decision.outTransferNo, code: isPayError(error) ? error.code : 50000 },
      'approved transfer not sent yet; the job sends it',
    );
    return decided;
  }
}

/** Sends an APPROVED transfer, once: whoever loses the claim gets the transfer as it stands. */
export async function sendTransfer(
  context: ServiceContext,
  merchantId: string,
  outTransferNo: string,
): Promise<Transfer> {
  // A gateway not configured (now) leaves it APPROVED, not UNKNOWN: nothing was sent.
  transferOperations(context, (await getTransfer(context, merchantId, outTransferNo)).provider);
  const claimed = await claimForSending(context, merchantId, outTransferNo);
  if (!claimed) return toTransfer(await getTransfer(context, merchantId, outTransferNo));
  return askGateway(context, claimed);
}

/** One transfer request to the gateway, with the stored (sealed) payee opened for this call only. */
async function askGateway(context: ServiceContext, row: TransferRow): Promise<Transfer> {
  const operations = transferOperations(context, row.provider);
  const settings = transferSettingsOf(context);
  let answer: TransferResult;
  try {
    answer = await gatewayCall(
      context,
      {
        type: 'transfer',
        provider: row.provider,
        merchantId: row.merchant_id,
        subjectKind: 'transfer',
        outTradeNo: row.out_transfer_no,
        amount: row.amount,
      },
      () =>
        operations.transfer({
          merchantId: row.merchant_id,
          account: row.account,
          outTransferNo: row.out_transfer_no,
          amountFen: row.amount,
          payee: openPayee(context, row),
          remark: row.remark,
          sceneId: row.scene_id ?? (row.provider === 'wxpay' ? settings.wxpaySceneId : null),
          ...(Array.isArray(row.scene_report_infos)
            ? { sceneReportInfos: row.scene_report_infos as Array<{ infoType: string; infoContent: string }> }
            : {}),
          userRecvPerception: row.user_recv_perception,
          notifyUrl: transferNotifyUrl(context, row.provider, row.merchant_id, row.account),
        }),
    );
  } catch (error) {
    // A refusal the gateway calls final: nothing was paid, the transfer FAILED. Anything else (a
    // timeout, an answer we could not verify, a 5xx) leaves it UNKNOWN for a query to settle.
    if (isFinalRefusal(error)) {
      const applied = await applyTransferResult(context, {
        merchantId: row.merchant_id,
        provider: row.provider,
        outTransferNo: row.out_transfer_no,
        status: 'FAILED',
        transferId: null,
        failReason: error.gatewayCode ?? String(error.code),
        source: 'request',
      });
      return applied.transfer;
    }
    context.logger.warn(
      { outTransferNo: row.out_transfer_no, code: isPayError(error) ? error.code : 50000 },
      'transfer request without a usable answer; left UNKNOWN for a query',
    );
    return toTransfer((await findTransfer(context.store.db, row.merchant_id, row.out_transfer_no))!);
  }
  return (await applyTransferResult(context, { ...answer, merchantId: row.merchant_id, source: 'request' }))
    .transfer;
}

export interface QueriedTransfer {
  transfer: Transfer;
  /** False: the gateway could not be asked just now; this is the state last known here. */
  fresh: boolean;
}

/**
 * The transfer. One awaiting the gateway (UNKNOWN, PROCESSING, WAIT_USER_CONFIRM) is asked about
 * by its number and the answer applied; an UNKNOWN one the gateway never received is sent again
 * with the same number, which the gateway takes as the same transfer.
 */
export async function queryTransfer(
  context: ServiceContext,
  merchantId: string,
  outTransferNo: string,
): Promise<QueriedTransfer> {
  const row = await getTransfer(context, merchantId, outTransferNo);
  if (row.status !== 'UNKNOWN' && row.status !== 'PROCESSING' && row.status !== 'WAIT_USER_CONFIRM')
    return { transfer: toTransfer(row), fresh: true };
  try {
    return { transfer: await askAbout(context, row), fresh: true };
  } catch (error) {
    if (!(error instanceof PayError) || !(error.retryable || error.outcomeUnknown)) throw error;
    return { transfer: toTransfer(row), fresh: false };
  }
}

async function askAbout(context: ServiceContext, row: TransferRow): Promise<Transfer> {
  const operations = transferOperations(context, row.provider);
  let answer: TransferResult;
  try {
    answer = await gatewayCall(
      context,
      {
        type: 'transfer_query',
        provider: row.provider,
        merchantId: row.merchant_id,
        subjectKind: 'transfer',
        outTradeNo: row.out_transfer_no,
      },
      () =>
        operations.queryTransfer({
          merchantId: row.merchant_id,
          account: row.account,
          outTransferNo: row.out_transfer_no,
        }),
    );
  } catch (error) {
    // The transfer is ours, so a 40005 is the gateway's: it never received the request.
    if (error instanceof PayError && error.code === 40005 && row.status === 'UNKNOWN') {
      // Of several queries finding nothing at once, one sends again (the same number either way).
      const claimed = await context.store.db
        .updateTable('payment_transfers')
        .set({ version: row.version + 1, update_date: context.now() })
        .where('id', '=', row.id)
        .where('status', '=', 'UNKNOWN')
        .where('version', '=', row.version)
        .returningAll()
        .executeTakeFirst();
      if (!claimed) return toTransfer(await getTransfer(context, row.merchant_id, row.out_transfer_no));
      context.logger.info(
        { outTransferNo: row.out_transfer_no },
        'transfer unknown at the gateway: sent again',
      );
      return askGateway(context, claimed);
    }
    throw error;
  }
  return (await applyTransferResult(context, { ...answer, merchantId: row.merchant_id, source: 'query' }))
    .transfer;
}

/** Withdraws a transfer the buyer has not confirmed (WeChat); the gateway's answer is applied. */
export async function cancelTransfer(
  context: ServiceContext,
  merchantId: string,
  outTransferNo: string,
): Promise<Transfer> {
  const row = await getTransfer(context, merchantId, outTransferNo);
  if (row.status !== 'WAIT_USER_CONFIRM' && row.status !== 'PROCESSING')
    throw new PayError(40001, {
      field: 'out_transfer_no',
      message: `transfer ${outTransferNo} is ${row.status}; only one awaiting the buyer can be cancelled`,
    });
  const operations = transferOperations(context, row.provider);
  if (!operations.cancelTransfer)
    throw new PayError(40001, { field: 'provider', message: `${row.provider} cannot cancel a transfer` });
  const cancel = operations.cancelTransfer;
  const answer = await gatewayCall(
    context,
    {
      type: 'transfer_cancel',
      provider: row.provider,
      merchantId,
      subjectKind: 'transfer',
      outTradeNo: outTransferNo,
    },
    () => cancel({ merchantId, account: row.account, outTransferNo }),
  );
  return (await applyTransferResult(context, { ...answer, merchantId, source: 'request' })).transfer;
}

export interface TransferSyncReport {
  checked: number;
  sent: number;
  settled: number;
  failed: number;
}

/**
 * One pass of the transfer job: claims the transfers whose check is due, oldest due first, and
 * moves each one's next check along the backoff (half its age, within the bounds) in the same
 * statement, so a transfer that stays stuck goes to the back and every other one gets its turn.
 * APPROVED ones never sent are sent; the others are asked about by their number.
 */
export async function syncPendingTransfers(context: ServiceContext): Promise<TransferSyncReport> {
  const { sync } = transferSettingsOf(context);
  const report: TransferSyncReport = { checked: 0, sent: 0, settled: 0, failed: 0 };
  const providers = [...context.providers.values()].filter((p) => p.transfers).map((p) => p.name);
  if (providers.length === 0) return report;
  const now = context.now();
  const { rows } = await sql<{ merchant_id: string; out_transfer_no: string; status: string }>`
    with due as (
      select id from payment_transfers
      where next_check_at <= ${now} and provider = any(${providers})
        and status in ('APPROVED', 'UNKNOWN', 'PROCESSING', 'WAIT_USER_CONFIRM')
      order by next_check_at, id
      limit ${sync.batchSize}
      for update skip locked
    )
    update payment_transfers t
    set next_check_at = ${now}::timestamptz + least(greatest(
          (${now}::timestamptz - t.create_date) / 2, ${sync.minGapMs} * interval '1 millisecond'),
          ${sync.maxGapMs} * interval '1 millisecond'),
        checks = t.checks + 1
    from due
    where t.id = due.id
    returning t.merchant_id, t.out_transfer_no, t.status
  `.execute(context.store.db);
  let next = 0;
  const work = async () => {
    while (next < rows.length) {
      const due = rows[next++]!;
      report.checked += 1;
      try {
        let after: Transfer;
        if (due.status === 'APPROVED') {
          after = await sendTransfer(context, due.merchant_id, due.out_transfer_no);
          report.sent += 1;
        } else {
          const queried = await queryTransfer(context, due.merchant_id, due.out_transfer_no);
          // Not asked (the gateway failed): its next check is already further along the backoff.
          if (!queried.fresh) report.failed += 1;
          after = queried.transfer;
        }
        if (after.status === 'SUCCESS' || after.status === 'FAILED' || after.status === 'CANCELLED')
          report.settled += 1;
      } catch (error) {
        report.failed += 1;
        context.logger.warn(
          { outTransferNo: due.out_transfer_no, code: isPayError(error) ? error.code : 50000 },
          'transfer sync failed',
        );
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(sync.concurrency, rows.length) }, work));
  return report;
}

export type TransferNotifyRequest = VerifiedNotifyRequest;

/** A transfer notification: verified with the account's keys, applied like a query's answer. */
export function handleTransferNotify(
  context: ServiceContext,
  request: TransferNotifyRequest,
): Promise<{ ack: NotifyAck; outcome: string }> {
  return handleVerifiedNotify(context, request, ({ transfers }) =>
    transfers
      ? {
          what: 'transfer',
          parse: (...args) => transfers.parseTransferNotify(...args),
          ack: (answer) => transfers.ackTransferNotify(answer),
          apply: (result: TransferResult) => applyTransferResult(context, result),
        }
      : undefined,
  );
}
