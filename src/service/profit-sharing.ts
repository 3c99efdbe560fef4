/**
 * Profit-sharing bookkeeping: a split is claimed under its order's lock, only within what is still
 * splittable (so no number of concurrent splits, returns and refunds of one order together exceed
 * its amount), and moved only along the state machine, each change with its webhook event in one
 * transaction. A receiver's name never reaches a view or an event.
 */
import type { Transaction } from 'kysely';
import { PayError } from '../core/errors.ts';
import {
  canMoveReturn,
  canMoveSplit,
  canMoveSplitLine,
  returnAwaitsGateway,
  type SplitKind,
  type SplitLineStatus,
  type SplitReturnStatus,
  type SplitStatus,
  splitAmountProblem,
  splitAwaitsGateway,
  splittableFen,
} from '../core/profit-sharing-states.ts';
import { isPaid } from '../core/states.ts';
import type { WebhookEventType } from '../core/webhooks.ts';
import type { ReturnResult, SplitLine, SplitLineOutcome, SplitResult } from '../providers/profit-sharing.ts';
import { insertNotifyEvent } from '../store/journal.ts';
import { lockOrder, lockOrderById } from '../store/orders.ts';
import {
  findReturn,
  findSplit,
  findSplitById,
  insertReturn,
  insertSplit,
  lockReturn,
  lockSplit,
  RETURN_HOLDING,
  returnsOfOrder,
  splitLedger,
  splitLines,
  updateReturn,
  updateSplit,
  updateSplitLine,
} from '../store/profit-sharing.ts';
import type { Database, OrderRow, SplitLineRow, SplitReturnRow, SplitRow } from '../store/schema.ts';
import type { ServiceContext } from './context.ts';
import { recordProfitSharingEvent } from './events.ts';
import {
  DEFAULT_PROFIT_SHARING,
  type ProfitSharingSettings,
  splitCheckGapMs,
} from './profit-sharing-settings.ts';

const iso = (value: Date | string | null): string | null =>
  value === null ? null : new Date(value).toISOString();

export interface SplitLineView {
  type: string;
  account: string;
  amount: number;
  description: string;
  result: SplitLineStatus;
  fail_reason: string | null;
  detail_id: string | null;
  finished_at: string | null;
}

export interface SplitView {
  out_split_no: string;
  split_id: string | null;
  out_trade_no: string;
  provider: string;
  account: string;
  kind: SplitKind;
  status: SplitStatus;
  finish: boolean;
  amount: number;
  fail_reason: string | null;
  lines: SplitLineView[];
  create_date: string;
  update_date: string;
}

export interface ReturnView {
  out_return_no: string;
  out_split_no: string;
  return_id: string | null;
  receiver_type: string;
  receiver_account: string;
  amount: number;
  description: string;
  status: SplitReturnStatus;
  fail_reason: string | null;
  with_refund: boolean;
  finished_at: string | null;
  create_date: string;
  update_date: string;
}

/** The split as the API and webhooks show it: amounts and receiver accounts, never names. */
export function splitView(split: SplitRow, lines: readonly SplitLineRow[]): SplitView {
  return {
    out_split_no: split.out_split_no,
    split_id: split.split_id,
    out_trade_no: split.out_trade_no,
    provider: split.provider,
    account: split.account,
    kind: split.kind,
    status: split.status,
    finish: split.finish,
    amount: split.amount,
    fail_reason: split.fail_reason,
    lines: lines.map((line) => ({
      type: line.type,
      account: line.receiver_account,
      amount: line.amount,
      description: line.description,
      result: line.result,
      fail_reason: line.fail_reason,
      detail_id: line.detail_id,
      finished_at: iso(line.finished_at),
    })),
    create_date: iso(split.create_date)!,
    update_date: iso(split.update_date)!,
  };
}

export function returnView(row: SplitReturnRow, outSplitNo: string): ReturnView {
  return {
    out_return_no: row.out_return_no,
    out_split_no: outSplitNo,
    return_id: row.return_id,
    receiver_type: row.receiver_type,
    receiver_account: row.receiver_account,
    amount: row.amount,
    description: row.description,
    status: row.status,
    fail_reason: row.fail_reason,
    with_refund: row.refund_ref !== null,
    finished_at: iso(row.finished_at),
    create_date: iso(row.create_date)!,
    update_date: iso(row.update_date)!,
  };
}

export function profitSharingSettingsOf(context: ServiceContext): ProfitSharingSettings {
  return context.profitSharing ?? DEFAULT_PROFIT_SHARING;
}

export interface SplitRequestInput {
  merchantId: string;
  outTradeNo: string;
  /** Ours, unique per merchant: the same number is the same split. */
  outSplitNo: string;
  lines: SplitLine[];
  /** Unfreeze what is left to the merchant with this split. */
  finish?: boolean;
}

export interface ClaimedSplit {
  split: SplitView;
  /** False when this out_split_no was asked for before: the same split, nothing new. */
  created: boolean;
  row: SplitRow;
}

/** WeChat out_order_no: digits, letters and _-|*@, at most 64; Alipay out_request_no is wider. */
const OUT_SPLIT_NO = /^[0-9A-Za-z_\-|*@]{1,64}$/;
const MAX_LINES = 50;

export function splitRequestProblems(request: SplitRequestInput, maxFen: number): PayError[] {
  const problems: PayError[] = [];
  const bad = (field: string, message: string) => problems.push(new PayError(40001, { field, message }));
  if (typeof request.outSplitNo !== 'string' || !OUT_SPLIT_NO.test(request.outSplitNo))
    bad('out_split_no', 'out_split_no must be 1 to 64 digits, letters or _-|*@');
  if (typeof request.outTradeNo !== 'string' || request.outTradeNo.length === 0)
    bad('out_trade_no', 'out_trade_no is required');
  if (!Array.isArray(request.lines) || request.lines.length === 0 || request.lines.length > MAX_LINES)
    bad('receivers', `receivers must list 1 to ${MAX_LINES} receivers`);
  else
    request.lines.forEach((line, index) => {
      if (!Number.isSafeInteger(line.amountFen) || line.amountFen < 1 || line.amountFen > maxFen)
        bad(`receivers[${index}].amount`, `receivers[${index}].amount must be a whole number of fen from 1`);
      if (typeof line.account !== 'string' || line.account.length === 0 || line.account.length > 64)
        bad(`receivers[${index}].account`, `receivers[${index}].account must be 1 to 64 characters`);
      if (
        typeof line.description !== 'string' ||
        line.description.length === 0 ||
        line.description.length > 80
      )
        bad(`receivers[${index}].description`, `receivers[${index}].description must be 1 to 80 characters`);
    });
  return problems;
}

export function oneProblem(problems: PayError[]): PayError {
  return problems.length === 1
    ? problems[0]!
    : new PayError(40001, {
        field: problems[0]!.field!,
        message: problems.map((problem) => problem.message).join('; '),
        details: problems.map((problem) => ({ field: problem.field, message: problem.message })),
      });
}

function sameLines(lines: readonly SplitLineRow[], asked: readonly SplitLine[]): boolean {
  return (
    lines.length === asked.length &&
    lines.every(
      (line, index) =>
        line.type === asked[index]!.type &&
        line.receiver_account === asked[index]!.account &&
        line.amount === asked[index]!.amountFen &&
        line.description === asked[index]!.description,
    )
  );
}

/** Splitting of the order is over: an unfreeze, or a split that unfroze the rest, not refused. */
/** An unfreeze, or a split with finish, that did not fail: the order may not be split again. */
export function splittingFinished(
  splits: ReadonlyArray<Pick<SplitRow, 'kind' | 'finish' | 'status'>>,
): boolean {
  return splits.some((split) => (split.kind === 'unfreeze' || split.finish) && split.status !== 'FAILED');
}

export async function orderForSplit(
  tx: Transaction<Database>,
  merchantId: string,
  outTradeNo: string,
): Promise<OrderRow> {
  const order = await lockOrder(tx, merchantId, outTradeNo);
  if (!order) throw new PayError(40005, { field: 'out_trade_no', message: `order ${outTradeNo} not found` });
  if (!isPaid(order.status) || !order.transaction_id)
    throw new PayError(40001, {
      field: 'out_trade_no',
      message: `order is ${order.status}; only a paid order can be split`,
    });
  if (!order.profit_sharing)
    throw new PayError(40009, {
      field: 'out_trade_no',
      message:
        'the order was not created for profit sharing (profit_sharing: true when paying, or a split rule for its type)',
    });
  return order;
}

/**
 * Claims a split (UNKNOWN: about to be sent) under its order's lock, within what the order still
 * has unsplit, or returns the split made first under the same number. A same number with other
 * content is refused. The claim commits before the gateway is asked, so one request reaches it.
 */
export async function claimSplit(
  context: ServiceContext,
  request: SplitRequestInput & { kind: SplitKind; description?: string },
): Promise<ClaimedSplit> {
  const { sync } = profitSharingSettingsOf(context);
  return context.store.db.transaction().execute(async (tx): Promise<ClaimedSplit> => {
    const order = await orderForSplit(tx, request.merchantId, request.outTradeNo);
    const existing = await lockSplit(tx, request.merchantId, request.outSplitNo);
    if (existing) {
      const lines = await splitLines(tx, existing.id);
      if (
        existing.order_id !== order.id ||
        existing.kind !== request.kind ||
        existing.finish !== (request.finish ?? false) ||
        !sameLines(lines, request.lines)
      )
        throw new PayError(40001, {
          field: 'out_split_no',
          message: 'out_split_no is already used by a different split; use a new out_split_no',
        });
      return { split: splitView(existing, lines), created: false, row: existing };
    }
    const splits = await tx
      .selectFrom('payment_splits')
      .selectAll()
      .where('order_id', '=', order.id)
      .execute();
    if (splittingFinished(splits))
      throw new PayError(40001, {
        field: 'out_trade_no',
        message: 'splitting of this order is finished (what was left is unfrozen to the merchant)',
      });
    const ledger = await splitLedger(tx, order);
    const amount = request.lines.reduce((sum, line) => sum + line.amountFen, 0);
    const problem = splitAmountProblem(ledger, amount);
    if (problem) throw problem;
    const now = context.now();
    const row = await insertSplit(
      tx,
      {
        order_id: order.id,
        merchant_id: order.merchant_id,
        provider: order.provider,
        account: order.account ?? 'default',
        out_trade_no: order.out_trade_no,
        out_split_no: request.outSplitNo,
        kind: request.kind,
        status: 'UNKNOWN',
        finish: request.kind === 'unfreeze' ? true : (request.finish ?? false),
        amount: request.kind === 'unfreeze' ? splittableFen(ledger) : amount,
        // If the sender dies before the answer, the job asks about it by its number.
        next_check_at: new Date(now.getTime() + sync.minGapMs),
        create_date: now,
        update_date: now,
      },
      request.lines.map((line, index) => ({
        line_no: index + 1,
        type: line.type,
        receiver_account: line.account,
        amount: line.amountFen,
        description: line.description,
        result: 'PENDING' as const,
      })),
    );
    return { split: splitView(row, await splitLines(tx, row.id)), created: true, row };
  });
}

const SPLIT_EVENTS: Partial<Record<SplitStatus, WebhookEventType & `profit_sharing.${string}`>> = {
  PROCESSING: 'profit_sharing.processing',
  FINISHED: 'profit_sharing.finished',
  FAILED: 'profit_sharing.failed',
};

export type SplitApplyOutcome = { outcome: 'applied' | 'already_applied' | 'ignored'; split: SplitView };

/** The gateway's word on a split (an answer, a query, a notification) or our certain FAILED. */
export interface SplitWord {
  merchantId: string;
  provider: string;
  outSplitNo: string;
  splitId: string | null;
  /** Absent for a notification, which reports lines only. */
  status?: SplitResult['status'] | 'FAILED';
  lines: SplitLineOutcome[];
  failReason?: string | null;
  eventId?: string | null;
}

/** Applies the gateway's word on a split and its lines, with its events, in one transaction. */
export async function applySplitWord(context: ServiceContext, word: SplitWord): Promise<SplitApplyOutcome> {
  const { sync } = profitSharingSettingsOf(context);
  const outcome = await context.store.db.transaction().execute(async (tx): Promise<SplitApplyOutcome> => {
    const found = await findSplit(tx, word.merchantId, word.outSplitNo);
    if (!found)
      throw new PayError(40005, { field: 'out_split_no', message: `split ${word.outSplitNo} not found` });
    // The order first, then the split: the same order as a claim, so no deadlock.
    const orderRow = (await lockOrderById(tx, found.order_id))!;
    const row = (await lockSplit(tx, word.merchantId, word.outSplitNo))!;
    if (row.provider !== word.provider)
      throw new PayError(40002, {
        field: 'provider',
        message: `a ${word.provider} result cannot settle a ${row.provider} split`,
      });
    const now = context.now();
    const lines = await splitLines(tx, row.id);
    const order = { type: orderRow.type, outTradeNo: orderRow.out_trade_no };
    let changed = false;
    // Lines: each reported outcome moves the first line of that receiver that can take it.
    const taken = new Set<number>();
    const closed: SplitLineRow[] = [];
    for (const reported of word.lines) {
      const line =
        lines.find(
          (candidate) =>
            !taken.has(candidate.id) &&
            candidate.type === reported.type &&
            candidate.receiver_account === reported.account &&
            candidate.amount === reported.amountFen &&
            (candidate.result === reported.result || canMoveSplitLine(candidate.result, reported.result)),
        ) ?? null;
      if (!line) continue;
      taken.add(line.id);
      if (line.result === reported.result) {
        // The same result; a detail id or the gateway's reason the first word lacked is still worth keeping.
        const reason =
          line.result === 'CLOSED' && reported.failReason ? reported.failReason : line.fail_reason;
        if ((reported.detailId && !line.detail_id) || reason !== line.fail_reason)
          await updateSplitLine(tx, line, {
            result: line.result,
            detail_id: line.detail_id ?? reported.detailId ?? null,
            fail_reason: reason,
          });
        continue;
      }
      const moved = await updateSplitLine(tx, line, {
        result: reported.result,
        fail_reason: reported.result === 'CLOSED' ? (reported.failReason ?? 'CLOSED') : null,
        detail_id: reported.detailId ?? line.detail_id,
        finished_at: reported.result === 'PENDING' ? null : (reported.finishedAt ?? now),
      });
      if (moved) {
        changed = true;
        if (moved.result === 'CLOSED') closed.push(moved);
      }
    }
    // The split: a notification's lines all final make it FINISHED.
    let target: SplitStatus | undefined = word.status;
    const linesNow = await splitLines(tx, row.id);
    if (
      target === undefined &&
      row.status !== 'UNKNOWN' &&
      linesNow.every((line) => line.result !== 'PENDING')
    )
      target = 'FINISHED';
    if (target === undefined && row.status === 'UNKNOWN' && word.lines.length > 0) target = 'PROCESSING';
    if (target === 'PROCESSING' && linesNow.length > 0 && linesNow.every((line) => line.result !== 'PENDING'))
      target = 'FINISHED';
    let current = row;
    if (target && target !== row.status && canMoveSplit(row.status, target)) {
      // A split whose lines are all final is FINISHED, even if the answer skipped PROCESSING.
      const moved = await updateSplit(
        tx,
        row,
        {
          status: target,
          split_id: word.splitId ?? row.split_id,
          fail_reason: target === 'FAILED' ? (word.failReason ?? 'FAILED') : row.fail_reason,
          next_check_at: splitAwaitsGateway(target)
            ? new Date(
                now.getTime() + splitCheckGapMs(sync, now.getTime() - new Date(row.create_date).getTime()),
              )
            : null,
        },
        now,
      );
      if (!moved) throw new PayError(40010, { message: 'the split changed under its lock; retry' });
      current = moved;
      changed = true;
    } else if (word.splitId && !row.split_id) {
      current = (await updateSplit(tx, row, { status: row.status, split_id: word.splitId }, now)) ?? row;
    }
    if (!changed)
      return {
        outcome: target && target !== row.status ? 'ignored' : 'already_applied',
        split: splitView(current, linesNow),
      };
    if (word.eventId)
      await insertNotifyEvent(tx, {
        subjectKind: 'payment',
        merchantId: row.merchant_id,
        provider: word.provider,
        eventId: word.eventId,
        outTradeNo: row.out_trade_no,
        payload: { outSplitNo: row.out_split_no, lines: word.lines.map((line) => line.result) },
        result: `split_${current.status.toLowerCase()}`,
      });
    const view = splitView(current, linesNow);
    for (const line of closed)
      await recordProfitSharingEvent(context, tx, 'profit_sharing.line_closed', row.merchant_id, order, {
        split: view,
        line:
          view.lines.find(
            (candidate) =>
              candidate.detail_id === line.detail_id && candidate.account === line.receiver_account,
          ) ?? null,
      });
    if (current.status !== row.status) {
      const type =
        current.kind === 'unfreeze' && current.status === 'FINISHED'
          ? 'profit_sharing.unfrozen'
          : SPLIT_EVENTS[current.status];
      if (type) await recordProfitSharingEvent(context, tx, type, row.merchant_id, order, { split: view });
    }
    return { outcome: 'applied', split: view };
  });
  if (outcome.outcome === 'applied') context.webhooks.wake();
  return outcome;
}

export interface ReturnRequestInput {
  merchantId: string;
  outSplitNo: string;
  outReturnNo: string;
  /** The receiver that gives it back. */
  receiverAccount: string;
  amountFen: number;
  description: string;
}

export interface ClaimedReturn {
  row: SplitReturnRow;
  split: SplitRow;
  created: boolean;
}

const OUT_RETURN_NO = OUT_SPLIT_NO;

/**
 * Claims a return (UNKNOWN: about to be sent) under the order's lock: at most what the receiver's
 * paid lines of that split hold, less what was already (or is being) given back.
 */
export async function claimReturn(
  context: ServiceContext,
  request: ReturnRequestInput,
): Promise<ClaimedReturn> {
  if (typeof request.outReturnNo !== 'string' || !OUT_RETURN_NO.test(request.outReturnNo))
    throw new PayError(40001, {
      field: 'out_return_no',
      message: 'out_return_no must be 1 to 64 digits, letters or _-|*@',
    });
  if (
    !Number.isSafeInteger(request.amountFen) ||
    request.amountFen < 1 ||
    request.amountFen > context.rules.maxFen
  )
    throw new PayError(40001, { field: 'amount', message: 'amount must be a whole number of fen from 1' });
  if (
    typeof request.description !== 'string' ||
    request.description.length === 0 ||
    request.description.length > 80
  )
    throw new PayError(40001, { field: 'description', message: 'description must be 1 to 80 characters' });
  const { sync } = profitSharingSettingsOf(context);
  return context.store.db.transaction().execute(async (tx): Promise<ClaimedReturn> => {
    const unlocked = await findSplit(tx, request.merchantId, request.outSplitNo);
    if (!unlocked)
      throw new PayError(40005, { field: 'out_split_no', message: `split ${request.outSplitNo} not found` });
    await lockOrderById(tx, unlocked.order_id);
    const split = (await lockSplit(tx, request.merchantId, request.outSplitNo))!;
    const existing = await lockReturn(tx, request.merchantId, request.outReturnNo);
    if (existing) {
      if (
        existing.split_ref !== split.id ||
        existing.amount !== request.amountFen ||
        existing.receiver_account !== request.receiverAccount
      )
        throw new PayError(40001, {
          field: 'out_return_no',
          message: 'out_return_no is already used by a different return; use a new out_return_no',
        });
      return { row: existing, split, created: false };
    }
    const paid = (await splitLines(tx, split.id)).filter(
      (line) => line.receiver_account === request.receiverAccount && line.result === 'SUCCESS',
    );
    const given = (await returnsOfOrder(tx, split.order_id)).filter(
      (ret) =>
        ret.split_ref === split.id &&
        ret.receiver_account === request.receiverAccount &&
        RETURN_HOLDING.includes(ret.status),
    );
    const returnable =
      paid.reduce((sum, line) => sum + line.amount, 0) - given.reduce((sum, ret) => sum + ret.amount, 0);
    if (request.amountFen > returnable)
      throw new PayError(40001, {
        field: 'amount',
        message: `the return of ${request.amountFen} fen exceeds the ${Math.max(returnable, 0)} fen this receiver was paid by split ${split.out_split_no} and has not given back`,
        details: { returnableFen: Math.max(returnable, 0) },
      });
    const now = context.now();
    const row = await insertReturn(tx, {
      merchant_id: split.merchant_id,
      order_id: split.order_id,
      split_ref: split.id,
      out_return_no: request.outReturnNo,
      receiver_type: paid[0]!.type,
      receiver_account: request.receiverAccount,
      amount: request.amountFen,
      description: request.description,
      status: 'UNKNOWN',
      next_check_at: new Date(now.getTime() + sync.minGapMs),
      create_date: now,
      update_date: now,
    });
    return { row, split, created: true };
  });
}

/** The gateway's word on a return: an answer, a query, or our certain FAILED. */
export interface ReturnWord {
  merchantId: string;
  outReturnNo: string;
  status: ReturnResult['status'];
  returnId?: string | null;
  failReason?: string | null;
  finishedAt?: Date | null;
}

/** Applies the gateway's word on a return, with its event, in one transaction. */
export async function applyReturnWord(
  context: ServiceContext,
  word: ReturnWord,
): Promise<{ outcome: 'applied' | 'already_applied' | 'ignored'; ret: ReturnView }> {
  const { sync } = profitSharingSettingsOf(context);
  const outcome = await context.store.db.transaction().execute(async (tx) => {
    const unlocked = await findReturn(tx, word.merchantId, word.outReturnNo);
    if (!unlocked)
      throw new PayError(40005, { field: 'out_return_no', message: `return ${word.outReturnNo} not found` });
    const orderRow = (await lockOrderById(tx, unlocked.order_id))!;
    const row = (await lockReturn(tx, word.merchantId, word.outReturnNo))!;
    return moveReturn(context, tx, row, orderRow, word, sync);
  });
  if (outcome.outcome === 'applied') context.webhooks.wake();
  return outcome;
}

/** Moves a locked return (its order locked first) and records its event. */
export async function moveReturn(
  context: ServiceContext,
  tx: Transaction<Database>,
  row: SplitReturnRow,
  orderRow: OrderRow,
  word: Omit<ReturnWord, 'merchantId' | 'outReturnNo'>,
  sync = profitSharingSettingsOf(context).sync,
): Promise<{ outcome: 'applied' | 'already_applied' | 'ignored'; ret: ReturnView }> {
  const split = (await findSplitById(tx, row.split_ref))!;
  if (row.status === word.status)
    return { outcome: 'already_applied', ret: returnView(row, split.out_split_no) };
  if (!canMoveReturn(row.status, word.status))
    return { outcome: 'ignored', ret: returnView(row, split.out_split_no) };
  const now = context.now();
  const moved = await updateReturn(
    tx,
    row,
    {
      status: word.status,
      return_id: word.returnId ?? row.return_id,
      fail_reason: word.status === 'FAILED' ? (word.failReason ?? 'FAILED') : null,
      finished_at: returnAwaitsGateway(word.status) ? null : (word.finishedAt ?? now),
      next_check_at:
        returnAwaitsGateway(word.status) && row.refund_ref === null
          ? new Date(
              now.getTime() + splitCheckGapMs(sync, now.getTime() - new Date(row.create_date).getTime()),
            )
          : null,
    },
    now,
  );
  if (!moved) throw new PayError(40010, { message: 'the return changed under its lock; retry' });
  const view = returnView(moved, split.out_split_no);
  const type =
    moved.status === 'SUCCESS'
      ? 'profit_sharing.returned'
      : moved.status === 'FAILED'
        ? 'profit_sharing.return_failed'
        : null;
  if (type)
    await recordProfitSharingEvent(
      context,
      tx,
      type,
      moved.merchant_id,
      { type: orderRow.type, outTradeNo: orderRow.out_trade_no },
      { return: view },
    );
  return { outcome: 'applied', ret: view };
}
