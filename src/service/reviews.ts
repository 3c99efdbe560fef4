/**
 * The manual-review queue: cases where money moved and no rule can finish the job, so a person
 * must. A closed order the gateway reports paid, a second payment of a paid order, a refund the
 * gateway marked abnormal, a refund still processing after the reconciliation window. Each case is
 * one row however often the gateway reports it; resolving it records who decided what.
 */
import type { Kysely, Transaction } from 'kysely';
import { maskCardNumbers } from '../core/card-data.ts';
import { PayError } from '../core/errors.ts';
import { sanitize } from '../core/sanitize.ts';
import type { Database, ReviewRow } from '../store/schema.ts';
import type { ServiceContext } from './context.ts';
import { recordReviewEvent } from './events.ts';

export const REVIEW_KINDS = [
  'paid_after_close',
  'second_payment',
  'refund_abnormal',
  'refund_stuck',
  'bill_mismatch',
  'webhook_exhausted',
  'unapplicable_callback',
  'close_failed',
  'refund_conflict',
  'rollback_close_failed',
  'reverse_failed',
] as const;
export type ReviewKind = (typeof REVIEW_KINDS)[number];

/** What the person is asked to do, per kind. */
export const REVIEW_ACTIONS: Record<ReviewKind, string> = {
  paid_after_close:
    'the buyer paid an order that was already closed: deliver it by hand, or refund the payment at the gateway',
  second_payment: 'the order was paid twice: refund the second payment (reference) at the gateway',
  refund_abnormal:
    "the gateway could not pay the refund out (closed card, frozen account): complete it in the gateway's merchant platform",
  refund_stuck: 'the refund is still processing long after it was asked for: check it with the gateway',
  bill_mismatch:
    "the gateway's trade bill and this service disagree (details.reason): compare the two and correct the side that is wrong",
  refund_conflict:
    'the gateway refunded a refund recorded here as refused, and the order has no refundable amount left for it: compare the refunds with the gateway and reverse the extra one',
  rollback_close_failed:
    "a route was rolled back but the gateway would not close this unpaid order of its canary account (details.gatewayCode): close it in that account's merchant platform, or check whether the buyer paid",
  reverse_failed:
    "the buyer's payment code was never confirmed and the gateway would not reverse the payment (details.gatewayCode): reverse or refund it in the merchant platform, or check whether the buyer paid",
  close_failed:
    'the order expired but the gateway would not close it (details.gatewayCode): close it in the merchant platform, or check whether the buyer paid',
  webhook_exhausted:
    'your webhook endpoint did not acknowledge this event through the whole retry schedule: fix the endpoint, then replay the event',
  unapplicable_callback:
    "a correctly signed gateway callback could not be applied (details.cause: unknown order or refund, another amount, another merchant or app) and was acknowledged: check it in the gateway's merchant platform, then refund the money or settle the order by hand",
};

/** Kinds that send no review event: the exhausted delivery's endpoint is the one that is failing. */
const SILENT_KINDS: readonly ReviewKind[] = ['webhook_exhausted'];

export interface ReviewCase {
  merchantId: string;
  kind: ReviewKind;
  /** What makes the case one: the payment's transaction id, or the refund's out_refund_no. */
  reference: string;
  outTradeNo?: string | null;
  provider?: string | null;
  amountFen?: number | null;
  details?: unknown;
}

export interface Review {
  id: number;
  merchantId: string;
  kind: ReviewKind;
  reference: string;
  outTradeNo: string | null;
  provider: string | null;
  amountFen: number | null;
  details: unknown;
  action: string;
  status: 'OPEN' | 'RESOLVED';
  note: string | null;
  createDate: Date;
  resolveDate: Date | null;
}

export function toReview(row: ReviewRow): Review {
  const kind = row.kind as ReviewKind;
  return {
    id: Number(row.id),
    merchantId: row.merchant_id,
    kind,
    reference: row.reference,
    outTradeNo: row.out_trade_no,
    provider: row.provider,
    amountFen: row.amount,
    details: row.details,
    action: REVIEW_ACTIONS[kind] ?? '',
    status: row.status,
    note: row.note,
    createDate: row.create_date,
    resolveDate: row.resolve_date,
  };
}

/**
 * Records a case once (a repeat of the same kind and reference is the same case), with its
 * review.opened event in the same transaction. Returns the case's id. Throws if it cannot be
 * stored: the caller must then not tell the gateway it is done. Given a transaction, the caller
 * commits it and wakes the webhook worker.
 */
export async function recordReview(
  context: ServiceContext,
  review: ReviewCase,
  db: Kysely<Database> | Transaction<Database> = context.store.db,
  options: { reopen?: boolean } = {},
): Promise<number> {
  if (db.isTransaction) return (await recordReviewIn(context, review, db, options)).id;
  const recorded = await db.transaction().execute((tx) => recordReviewIn(context, review, tx, options));
  if (recorded.opened) context.webhooks.wake();
  return recorded.id;
}

async function recordReviewIn(
  context: ServiceContext,
  review: ReviewCase,
  db: Kysely<Database> | Transaction<Database>,
  options: { reopen?: boolean },
): Promise<{ id: number; opened: boolean }> {
  const opened = async (row: ReviewRow) => {
    if (!SILENT_KINDS.includes(review.kind))
      await recordReviewEvent(context, db, 'review.opened', toReview(row));
    return { id: Number(row.id), opened: true };
  };
  if (options.reopen) {
    // The same case arising again after it was resolved (a refund abnormal a second time).
    const reopened = await db
      .updateTable('payment_reviews')
      .set({
        status: 'OPEN',
        note: null,
        resolve_date: null,
        details: JSON.stringify(sanitize(review.details ?? null)),
      })
      .where('merchant_id', '=', review.merchantId)
      .where('kind', '=', review.kind)
      .where('reference', '=', review.reference)
      .where('status', '=', 'RESOLVED')
      .returningAll()
      .executeTakeFirst();
    if (reopened) return opened(reopened);
  }
  const inserted = await db
    .insertInto('payment_reviews')
    .values({
      merchant_id: review.merchantId,
      kind: review.kind,
      reference: review.reference,
      out_trade_no: review.outTradeNo ?? null,
      provider: review.provider ?? null,
      amount: review.amountFen ?? null,
      details: JSON.stringify(sanitize(review.details ?? null)),
    })
    .onConflict((conflict) => conflict.constraint('payment_reviews_once').doNothing())
    .returningAll()
    .executeTakeFirst();
  if (inserted) {
    context.logger.warn(
      { review: { kind: review.kind, reference: review.reference, outTradeNo: review.outTradeNo } },
      'payment needs a manual review',
    );
    return opened(inserted);
  }
  const existing = await db
    .selectFrom('payment_reviews')
    .select('id')
    .where('merchant_id', '=', review.merchantId)
    .where('kind', '=', review.kind)
    .where('reference', '=', review.reference)
    .executeTakeFirstOrThrow();
  return { id: Number(existing.id), opened: false };
}

export async function listReviews(
  context: ServiceContext,
  merchantId: string,
  options: { status?: 'OPEN' | 'RESOLVED' | 'ALL'; limit?: number } = {},
): Promise<Review[]> {
  let query = context.store.db
    .selectFrom('payment_reviews')
    .selectAll()
    .where('merchant_id', '=', merchantId)
    .orderBy('create_date', 'desc')
    .orderBy('id', 'desc')
    .limit(Math.min(Math.max(options.limit ?? 100, 1), 500));
  const status = options.status ?? 'OPEN';
  if (status !== 'ALL') query = query.where('status', '=', status);
  return (await query.execute()).map((row) => toReview(row));
}

/** Closes the open case of this kind and reference, if there is one (the system settled it). */
export async function closeReview(
  context: ServiceContext,
  merchantId: string,
  kind: ReviewKind,
  reference: string,
  note: string,
): Promise<void> {
  const closed = await context.store.db.transaction().execute(async (tx) => {
    const rows = await tx
      .updateTable('payment_reviews')
      .set({ status: 'RESOLVED', note, resolve_date: context.now() })
      .where('merchant_id', '=', merchantId)
      .where('kind', '=', kind)
      .where('reference', '=', reference)
      .where('status', '=', 'OPEN')
      .returningAll()
      .execute();
    for (const row of rows) await resolvedEvent(context, tx, row);
    return rows.length;
  });
  if (closed > 0) context.webhooks.wake();
}

async function resolvedEvent(context: ServiceContext, tx: Transaction<Database>, row: ReviewRow) {
  if (!SILENT_KINDS.includes(row.kind as ReviewKind))
    await recordReviewEvent(context, tx, 'review.resolved', toReview(row));
}

/**
 * Closes a case with what was done. Resolving a resolved case again is refused (40001).
 * `alongside` runs in the transaction of the change with the case as it was and as it is now: the
 * console writes its audit row there, so the change and its row commit together.
 */
export async function resolveReview(
  context: ServiceContext,
  merchantId: string,
  id: number,
  note: string,
  alongside?: (tx: Transaction<Database>, before: Review, after: Review) => Promise<void>,
): Promise<Review> {
  if (typeof note !== 'string' || note.trim().length < 2 || note.length > 500)
    throw new PayError(40001, {
      field: 'note',
      message: 'note must say what was done, in 2 to 500 characters',
    });
  const { db } = context.store;
  const resolved = await db.transaction().execute(async (tx) => {
    const open = alongside
      ? await tx
          .selectFrom('payment_reviews')
          .selectAll()
          .where('id', '=', id)
          .where('merchant_id', '=', merchantId)
          .where('status', '=', 'OPEN')
          .forUpdate()
          .executeTakeFirst()
      : undefined;
    const row = await tx
      .updateTable('payment_reviews')
      .set({ status: 'RESOLVED', note: maskCardNumbers(note.trim()), resolve_date: context.now() })
      .where('id', '=', id)
      .where('merchant_id', '=', merchantId)
      .where('status', '=', 'OPEN')
      .returningAll()
      .executeTakeFirst();
    if (row) await resolvedEvent(context, tx, row);
    if (row && open && alongside) await alongside(tx, toReview(open), toReview(row));
    return row;
  });
  if (resolved) {
    context.webhooks.wake();
    return toReview(resolved);
  }
  const existing = await db
    .selectFrom('payment_reviews')
    .select('status')
    .where('id', '=', id)
    .where('merchant_id', '=', merchantId)
    .executeTakeFirst();
  if (!existing) throw new PayError(40005, { field: 'id', message: `review ${id} not found` });
  throw new PayError(40001, { field: 'id', message: `review ${id} is already resolved` });
}
