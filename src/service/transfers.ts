/**
 * Transfer bookkeeping: a transfer is reserved under its merchant's transfer lock, within the
 * per-transfer and daily limits, held for a second person's approval above the threshold, and
 * moved only along the state machine, each change with its webhook event in one transaction. The
 * payee's identity and name are sealed before they reach a row and opened only to call the gateway.
 */
import type { Transaction } from 'kysely';
import { isPayError, PayError } from '../core/errors.ts';
import { fenProblem } from '../core/money.ts';
import {
  canMoveTransfer,
  chinaDateOf,
  needsApproval,
  type TransferStatus,
  transferAwaitsGateway,
  transferLimitProblem,
} from '../core/transfer-states.ts';
import type { PayeeIdentityType, TransferPayee, TransferResult } from '../providers/transfer.ts';
import { insertNotifyEvent } from '../store/journal.ts';
import type { Database, TransferRow } from '../store/schema.ts';
import {
  findTransfer,
  heldTransferFen,
  insertTransfer,
  lockMerchantTransfers,
  lockTransfer,
  updateTransfer,
} from '../store/transfers.ts';
import { type Actor, audit } from './console/audit.ts';
import { recordError, recordLog, type ServiceContext, type WithChange } from './context.ts';
import { recordTransferEvent } from './events.ts';
import type { FieldSealer } from './sealing.ts';
import { storeFailure } from './store-failure.ts';
import {
  DEFAULT_TRANSFERS,
  type TransferSettings,
  transferCheckGapMs,
  transferLimitsFor,
} from './transfer-settings.ts';

export interface Transfer {
  id: number;
  merchantId: string;
  outTransferNo: string;
  provider: string;
  account: string;
  amountFen: number;
  remark: string;
  payeeType: string;
  status: TransferStatus;
  transferId: string | null;
  packageInfo: string | null;
  failReason: string | null;
  userId: string | null;
  requestedBy: string;
  decidedBy: string | null;
  decisionNote: string | null;
  successTime: string | null;
  createdAt: string;
  updatedAt: string;
}

const iso = (value: Date | string | null): string | null =>
  value === null ? null : new Date(value).toISOString();

export function toTransfer(row: TransferRow): Transfer {
  return {
    id: Number(row.id),
    merchantId: row.merchant_id,
    outTransferNo: row.out_transfer_no,
    provider: row.provider,
    account: row.account,
    amountFen: row.amount,
    remark: row.remark,
    payeeType: row.payee_type,
    status: row.status,
    transferId: row.transfer_id,
    packageInfo: row.package_info,
    failReason: row.fail_reason,
    userId: row.user_id,
    requestedBy: row.requested_by,
    decidedBy: row.decided_by,
    decisionNote: row.decision_note,
    successTime: iso(row.success_time),
    createdAt: iso(row.create_date)!,
    updatedAt: iso(row.update_date)!,
  };
}

/** The transfer as the API and webhooks show it: never the payee's identity or name. */
export function transferView(transfer: Transfer) {
  return {
    out_transfer_no: transfer.outTransferNo,
    transfer_id: transfer.transferId,
    provider: transfer.provider,
    account: transfer.account,
    amount: transfer.amountFen,
    remark: transfer.remark,
    payee_type: transfer.payeeType,
    status: transfer.status,
    package_info: transfer.packageInfo,
    fail_reason: transfer.failReason,
    user_id: transfer.userId,
    requested_by: transfer.requestedBy,
    decided_by: transfer.decidedBy,
    decision_note: transfer.decisionNote,
    success_time: transfer.successTime,
    create_date: transfer.createdAt,
    update_date: transfer.updatedAt,
  };
}

export function transferSettingsOf(context: ServiceContext): TransferSettings {
  return context.transfers ?? DEFAULT_TRANSFERS;
}

export interface CreateTransferRequest {
  merchantId: string;
  provider: string;
  account?: string;
  outTransferNo: string;
  amountFen: number;
  payee: TransferPayee;
  remark: string;
  /** Who asks for it: an operator's name. Above the threshold someone else must approve. */
  requestedBy: string;
  userId?: string | null;
  sceneId?: string | null;
  sceneReportInfos?: Array<{ infoType: string; infoContent: string }>;
  userRecvPerception?: string | null;
  /** Where the request came from, for the audit row. */
  ip?: string | null;
  userAgent?: string | null;
}

export interface CreatedTransfer {
  transfer: Transfer;
  /** False when this out_transfer_no was asked for before: the same transfer, nothing new. */
  created: boolean;
}

/** WeChat's out_bill_no takes digits and letters only, at most 32; Alipay's out_biz_no is wider. */
const OUT_TRANSFER_NO = /^[0-9A-Za-z]{6,32}$/;
const IDENTITY_TYPES: readonly PayeeIdentityType[] = ['OPENID', 'ALIPAY_USER_ID', 'ALIPAY_LOGON_ID'];

/** Every problem of a transfer request, at once. */
export function transferProblems(request: CreateTransferRequest, maxFen: number): PayError[] {
  const problems: PayError[] = [];
  const bad = (field: string, message: string) => problems.push(new PayError(40001, { field, message }));
  if (typeof request.outTransferNo !== 'string' || !OUT_TRANSFER_NO.test(request.outTransferNo))
    bad('out_transfer_no', 'out_transfer_no must be 6 to 32 digits and letters');
  const amount = fenProblem(request.amountFen, maxFen);
  if (amount) bad('amount', `amount ${amount}`);
  if (!IDENTITY_TYPES.includes(request.payee?.identityType))
    bad('payee.identity_type', `payee.identity_type must be one of ${IDENTITY_TYPES.join(', ')}`);
  const identity = request.payee?.identity;
  if (typeof identity !== 'string' || identity.length === 0 || identity.length > 128 || /\s/.test(identity))
    bad('payee.identity', 'payee.identity must be 1 to 128 characters without spaces');
  const name = request.payee?.name;
  if (
    name !== undefined &&
    name !== null &&
    (typeof name !== 'string' || name.length === 0 || name.length > 64)
  )
    bad('payee.name', 'payee.name must be 1 to 64 characters');
  if (
    typeof request.remark !== 'string' ||
    request.remark.length === 0 ||
    Array.from(request.remark).length > 32
  )
    bad('remark', 'remark must be 1 to 32 characters');
  if (
    typeof request.requestedBy !== 'string' ||
    request.requestedBy.length === 0 ||
    request.requestedBy.length > 64
  )
    bad('operator', 'operator (who asks for the transfer) must be 1 to 64 characters');
  return problems;
}

function sealerOf(context: ServiceContext): FieldSealer {
  if (!context.sealer)
    // Refused as not enabled (403), not as a gateway certificate fault: nothing the client sent is wrong.
    throw new PayError(40009, {
      field: 'encryption',
      message:
        'transfers are not enabled on this service: they need an encryption key (ENCRYPTION_KEY or encryption.keys), as the payee is stored encrypted only',
    });
  return context.sealer;
}

/** The payee of a stored transfer, opened for a gateway call. */
export function openPayee(context: ServiceContext, row: TransferRow): TransferPayee {
  const sealer = sealerOf(context);
  return {
    identityType: row.payee_type as PayeeIdentityType,
    identity: String(sealer.openValue(row.payee_identity_sealed)),
    name: row.payee_name_sealed === null ? null : String(sealer.openValue(row.payee_name_sealed)),
  };
}

const actorOf = (
  name: string,
  ip?: string | null,
  userAgent?: string | null,
  id: number | null = null,
): Actor => ({
  id,
  name,
  ip: ip ?? null,
  userAgent: userAgent ?? null,
});

/**
 * Reserves a transfer: PENDING_APPROVAL at or above the approval threshold, else APPROVED (cleared
 * to send). The same out_transfer_no again returns the transfer made first; with a different
 * amount, gateway or payee it is refused.
 */
export async function createTransfer(
  context: ServiceContext,
  request: CreateTransferRequest,
  withCreated?: WithChange<CreatedTransfer>,
): Promise<CreatedTransfer> {
  const started = performance.now();
  const settings = transferSettingsOf(context);
  try {
    const problems = transferProblems(request, context.rules.maxFen);
    if (problems.length > 0)
      throw problems.length === 1
        ? problems[0]!
        : new PayError(40001, {
            field: problems[0]!.field!,
            message: problems.map((problem) => problem.message).join('; '),
            details: problems.map((problem) => ({ field: problem.field, message: problem.message })),
          });
    const sealer = sealerOf(context);
    const now = context.now();
    const outcome = await context.store.db.transaction().execute(async (tx): Promise<CreatedTransfer> => {
      await lockMerchantTransfers(tx, request.merchantId);
      const existing = await findTransfer(tx, request.merchantId, request.outTransferNo);
      if (existing) {
        const payee = openPayee(context, existing);
        if (
          existing.amount !== request.amountFen ||
          existing.provider !== request.provider ||
          payee.identityType !== request.payee.identityType ||
          payee.identity !== request.payee.identity
        )
          throw new PayError(40001, {
            field: 'out_transfer_no',
            message: 'out_transfer_no is already used by a different transfer; use a new out_transfer_no',
          });
        return { transfer: toTransfer(existing), created: false };
      }
      const limits = transferLimitsFor(settings, request.merchantId);
      const limitDate = chinaDateOf(now);
      const refusal = transferLimitProblem(
        limits,
        request.amountFen,
        await heldTransferFen(tx, request.merchantId, limitDate),
      );
      if (refusal) throw refusal;
      const status: TransferStatus = needsApproval(limits, request.amountFen)
        ? 'PENDING_APPROVAL'
        : 'APPROVED';
      const row = await insertTransfer(tx, {
        merchant_id: request.merchantId,
        out_transfer_no: request.outTransferNo,
        provider: request.provider,
        account: request.account ?? 'default',
        amount: request.amountFen,
        remark: request.remark,
        payee_type: request.payee.identityType,
        payee_identity_sealed: JSON.stringify(sealer.sealValue(request.payee.identity)),
        payee_name_sealed: request.payee.name ? JSON.stringify(sealer.sealValue(request.payee.name)) : null,
        scene_id: request.sceneId ?? null,
        scene_report_infos: request.sceneReportInfos ? JSON.stringify(request.sceneReportInfos) : null,
        user_recv_perception: request.userRecvPerception ?? null,
        user_id: request.userId ?? null,
        status,
        requested_by: request.requestedBy,
        limit_date: limitDate,
        // Cleared to send: if the sender dies before sending, the job sends it.
        next_check_at: status === 'APPROVED' ? new Date(now.getTime() + settings.sync.minGapMs) : null,
        create_date: now,
        update_date: now,
      });
      const transfer = toTransfer(row);
      await audit(tx, {
        actor: actorOf(request.requestedBy, request.ip, request.userAgent),
        action: 'transfer.created',
        target: `${request.merchantId}/${request.outTransferNo}`,
        after: { provider: transfer.provider, amount: transfer.amountFen, status: transfer.status },
      });
      await recordTransferEvent(context, tx, 'transfer.created', transfer.merchantId, transferView(transfer));
      const created = { transfer, created: true };
      await withCreated?.(tx, created);
      return created;
    });
    if (outcome.created) context.webhooks.wake();
    await recordLog(context, {
      type: 'transfer_start',
      status: 'SUCCESS',
      subjectKind: 'transfer',
      merchantId: request.merchantId,
      outTradeNo: request.outTransferNo,
      provider: request.provider,
      amount: request.amountFen,
      responseMs: Math.round(performance.now() - started),
    });
    return outcome;
  } catch (error) {
    const payError = isPayError(error) ? error : storeFailure(error);
    await recordError(context, payError, {
      subjectKind: 'transfer',
      merchantId: request.merchantId,
      outTradeNo: request.outTransferNo,
      provider: request.provider,
    });
    await recordLog(context, {
      type: 'transfer_start',
      status: 'ERROR',
      subjectKind: 'transfer',
      merchantId: request.merchantId,
      outTradeNo: request.outTransferNo,
      provider: request.provider,
      amount: typeof request.amountFen === 'number' ? request.amountFen : null,
      error: { code: payError.code, message: payError.message },
      responseMs: Math.round(performance.now() - started),
    });
    throw payError;
  }
}

export interface TransferDecision {
  merchantId: string;
  outTransferNo: string;
  approve: boolean;
  /** Who decides: never the one who asked for the transfer. */
  decidedBy: string;
  note?: string | null;
  /** The console user, when the decision comes from the console. */
  actorId?: number | null;
  ip?: string | null;
  userAgent?: string | null;
}

/** Approves (APPROVED: it may be sent) or rejects (REJECTED: final) a transfer awaiting approval. */
export async function decideTransfer(
  context: ServiceContext,
  decision: TransferDecision,
  withDecision?: WithChange<Transfer>,
): Promise<Transfer> {
  if (
    typeof decision.decidedBy !== 'string' ||
    decision.decidedBy.length === 0 ||
    decision.decidedBy.length > 64
  )
    throw new PayError(40001, {
      field: 'operator',
      message: 'operator (who decides) must be 1 to 64 characters',
    });
  const settings = transferSettingsOf(context);
  const transfer = await context.store.db.transaction().execute(async (tx) => {
    const row = await lockTransfer(tx, decision.merchantId, decision.outTransferNo);
    if (!row)
      throw new PayError(40005, {
        field: 'out_transfer_no',
        message: `transfer ${decision.outTransferNo} not found`,
      });
    if (row.status !== 'PENDING_APPROVAL')
      throw new PayError(40001, {
        field: 'out_transfer_no',
        message: `transfer ${decision.outTransferNo} is ${row.status}; only a PENDING_APPROVAL transfer can be approved or rejected`,
      });
    if (row.requested_by === decision.decidedBy)
      throw new PayError(40009, {
        field: 'operator',
        message: `${decision.decidedBy} asked for transfer ${decision.outTransferNo}: another person must approve or reject it`,
      });
    const now = context.now();
    const status: TransferStatus = decision.approve ? 'APPROVED' : 'REJECTED';
    const moved = await updateTransfer(
      tx,
      row,
      {
        status,
        decided_by: decision.decidedBy,
        decision_note: decision.note ?? null,
        next_check_at: decision.approve ? new Date(now.getTime() + settings.sync.minGapMs) : null,
      },
      now,
    );
    if (!moved) throw new PayError(40010, { message: 'the transfer changed under its lock; retry' });
    const view = toTransfer(moved);
    await audit(tx, {
      actor: actorOf(decision.decidedBy, decision.ip, decision.userAgent, decision.actorId ?? null),
      action: decision.approve ? 'transfer.approved' : 'transfer.rejected',
      target: `${row.merchant_id}/${row.out_transfer_no}`,
      before: { status: row.status, requested_by: row.requested_by },
      after: { status, amount: row.amount, note: decision.note ?? null },
    });
    await recordTransferEvent(
      context,
      tx,
      decision.approve ? 'transfer.approved' : 'transfer.rejected',
      view.merchantId,
      transferView(view),
    );
    await withDecision?.(tx, view);
    return view;
  });
  context.webhooks.wake();
  await recordLog(context, {
    type: decision.approve ? 'transfer_approve' : 'transfer_reject',
    status: 'SUCCESS',
    subjectKind: 'transfer',
    merchantId: transfer.merchantId,
    outTradeNo: transfer.outTransferNo,
    provider: transfer.provider,
    amount: transfer.amountFen,
  });
  return transfer;
}

/**
 * Claims an APPROVED transfer for sending (APPROVED -> UNKNOWN) in its own transaction: of any
 * number of senders (the request, a retry, the job, another instance) exactly one wins and calls
 * the gateway. Null when the transfer is not APPROVED any more.
 */
export async function claimForSending(
  context: ServiceContext,
  merchantId: string,
  outTransferNo: string,
): Promise<TransferRow | null> {
  const settings = transferSettingsOf(context);
  const now = context.now();
  return context.store.db.transaction().execute(async (tx) => {
    const row = await lockTransfer(tx, merchantId, outTransferNo);
    if (row?.status !== 'APPROVED') return null;
    return (
      (await updateTransfer(
        tx,
        row,
        { status: 'UNKNOWN', next_check_at: new Date(now.getTime() + settings.sync.minGapMs) },
        now,
      )) ?? null
    );
  });
}

const TRANSFER_EVENTS: Partial<Record<TransferStatus, Parameters<typeof recordTransferEvent>[2]>> = {
  PROCESSING: 'transfer.processing',
  WAIT_USER_CONFIRM: 'transfer.wait_user_confirm',
  SUCCESS: 'transfer.succeeded',
  FAILED: 'transfer.failed',
  CANCELLED: 'transfer.cancelled',
};

export type TransferApplyOutcome =
  | { outcome: 'applied'; transfer: Transfer }
  | { outcome: 'already_applied'; transfer: Transfer }
  | { outcome: 'ignored'; transfer: Transfer; reason: string };

/** Applies a gateway's word on a transfer, with its event, in one transaction. */
export async function applyTransferResult(
  context: ServiceContext,
  result: TransferResult,
  withApplied?: WithChange<Transfer>,
): Promise<TransferApplyOutcome> {
  const settings = transferSettingsOf(context);
  const started = performance.now();
  try {
    const outcome = await context.store.db
      .transaction()
      .execute(async (tx: Transaction<Database>): Promise<TransferApplyOutcome> => {
        const row = await lockTransfer(tx, result.merchantId, result.outTransferNo);
        if (!row)
          throw new PayError(40005, {
            field: 'out_transfer_no',
            message: `transfer ${result.outTransferNo} not found`,
          });
        if (row.provider !== result.provider)
          throw new PayError(40002, {
            field: 'provider',
            message: `a ${result.provider} result cannot settle a ${row.provider} transfer`,
          });
        if (result.amountFen != null && result.amountFen !== row.amount)
          throw new PayError(40001, {
            field: 'amount',
            message: `the gateway reports ${result.amountFen} fen for transfer ${row.out_transfer_no} of ${row.amount} fen`,
          });
        const now = context.now();
        if (row.status === result.status) {
          // The same state; a package_info the first answer lacked is still worth keeping.
          if (result.packageInfo && !row.package_info) {
            const kept = await updateTransfer(
              tx,
              row,
              { status: row.status, package_info: result.packageInfo },
              now,
            );
            if (kept) return { outcome: 'already_applied', transfer: toTransfer(kept) };
          }
          return { outcome: 'already_applied', transfer: toTransfer(row) };
        }
        if (!canMoveTransfer(row.status, result.status))
          return {
            outcome: 'ignored',
            transfer: toTransfer(row),
            reason: `transfer is ${row.status}; ${result.status} does not apply`,
          };
        const awaiting = transferAwaitsGateway(result.status);
        const ageMs = now.getTime() - new Date(row.create_date).getTime();
        const moved = await updateTransfer(
          tx,
          row,
          {
            status: result.status,
            transfer_id: result.transferId ?? row.transfer_id,
            package_info: result.packageInfo ?? row.package_info,
            fail_reason: result.status === 'FAILED' ? (result.failReason ?? 'FAILED') : row.fail_reason,
            success_time: result.status === 'SUCCESS' ? (result.successTime ?? now) : null,
            next_check_at: awaiting
              ? new Date(now.getTime() + transferCheckGapMs(settings.sync, ageMs))
              : null,
          },
          now,
        );
        if (!moved) throw new PayError(40010, { message: 'the transfer changed under its lock; retry' });
        if (result.eventId)
          await insertNotifyEvent(tx, {
            provider: result.provider,
            eventId: result.eventId,
            subjectKind: 'transfer',
            merchantId: row.merchant_id,
            outTradeNo: row.out_transfer_no,
            payload: { state: result.status, transferId: result.transferId },
            result: `transfer_${result.status.toLowerCase()}`,
          });
        const transfer = toTransfer(moved);
        const type = TRANSFER_EVENTS[result.status];
        if (type) await recordTransferEvent(context, tx, type, transfer.merchantId, transferView(transfer));
        await withApplied?.(tx, transfer);
        return { outcome: 'applied', transfer };
      });
    if (outcome.outcome === 'applied') context.webhooks.wake();
    await recordLog(context, {
      type: `transfer_${result.source}`,
      status: 'SUCCESS',
      subjectKind: 'transfer',
      merchantId: result.merchantId,
      outTradeNo: result.outTransferNo,
      provider: result.provider,
      amount: outcome.transfer.amountFen,
      responseMs: Math.round(performance.now() - started),
    });
    return outcome;
  } catch (error) {
    const payError = isPayError(error) ? error : storeFailure(error);
    await recordError(context, payError, {
      subjectKind: 'transfer',
      merchantId: result.merchantId,
      outTradeNo: result.outTransferNo,
      provider: result.provider,
    });
    await recordLog(context, {
      type: `transfer_${result.source}`,
      status: 'ERROR',
      subjectKind: 'transfer',
      merchantId: result.merchantId,
      outTradeNo: result.outTransferNo,
      provider: result.provider,
      error: { code: payError.code, message: payError.message },
      responseMs: Math.round(performance.now() - started),
    });
    throw payError;
  }
}

export async function getTransfer(context: ServiceContext, merchantId: string, outTransferNo: string) {
  const row = await findTransfer(context.store.db, merchantId, outTransferNo);
  if (!row)
    throw new PayError(40005, { field: 'out_transfer_no', message: `transfer ${outTransferNo} not found` });
  return row;
}
