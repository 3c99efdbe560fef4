/** Reads and conditional writes of the profit-sharing tables: receivers, splits, their lines, returns. */
import { type Insertable, type Kysely, sql, type Transaction } from 'kysely';
import {
  lineHoldsAmount,
  RETURN_STATUSES,
  returnGivesBack,
  type SplitLedger,
  type SplitLineStatus,
  type SplitReturnStatus,
  type SplitStatus,
} from '../core/profit-sharing-states.ts';
import { heldRefundFen } from './refunds.ts';
import type {
  Database,
  OrderRow,
  PaymentSplitLinesTable,
  PaymentSplitReceiversTable,
  PaymentSplitReturnsTable,
  PaymentSplitsTable,
  SplitLineRow,
  SplitReceiverRow,
  SplitReturnRow,
  SplitRow,
} from './schema.ts';

type Db = Kysely<Database> | Transaction<Database>;

export async function findReceiver(
  db: Db,
  key: { merchantId: string; provider: string; account: string; type: string; receiverAccount: string },
): Promise<SplitReceiverRow | undefined> {
  return db
    .selectFrom('payment_split_receivers')
    .selectAll()
    .where('merchant_id', '=', key.merchantId)
    .where('provider', '=', key.provider)
    .where('account', '=', key.account)
    .where('type', '=', key.type)
    .where('receiver_account', '=', key.receiverAccount)
    .executeTakeFirst();
}

export async function upsertReceiver(
  db: Db,
  row: Insertable<PaymentSplitReceiversTable>,
): Promise<SplitReceiverRow> {
  return db
    .insertInto('payment_split_receivers')
    .values(row)
    .onConflict((conflict) =>
      conflict.constraint('payment_split_receivers_unique').doUpdateSet({
        name_sealed: row.name_sealed ?? null,
        relation_type: row.relation_type ?? null,
        custom_relation: row.custom_relation ?? null,
        bound_at: row.bound_at ?? null,
        update_date: row.update_date ?? new Date(),
      }),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function deleteReceiver(db: Db, id: number): Promise<void> {
  await db.deleteFrom('payment_split_receivers').where('id', '=', id).execute();
}

export async function listReceivers(db: Db, merchantId: string): Promise<SplitReceiverRow[]> {
  return db
    .selectFrom('payment_split_receivers')
    .selectAll()
    .where('merchant_id', '=', merchantId)
    .orderBy('id')
    .execute();
}

export async function findSplit(
  db: Db,
  merchantId: string,
  outSplitNo: string,
): Promise<SplitRow | undefined> {
  return db
    .selectFrom('payment_splits')
    .selectAll()
    .where('merchant_id', '=', merchantId)
    .where('out_split_no', '=', outSplitNo)
    .executeTakeFirst();
}

export async function lockSplit(
  tx: Transaction<Database>,
  merchantId: string,
  outSplitNo: string,
): Promise<SplitRow | undefined> {
  return tx
    .selectFrom('payment_splits')
    .selectAll()
    .where('merchant_id', '=', merchantId)
    .where('out_split_no', '=', outSplitNo)
    .forUpdate()
    .executeTakeFirst();
}

export async function findSplitById(db: Db, id: number): Promise<SplitRow | undefined> {
  return db.selectFrom('payment_splits').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function splitLines(db: Db, splitRef: number): Promise<SplitLineRow[]> {
  return db
    .selectFrom('payment_split_lines')
    .selectAll()
    .where('split_ref', '=', splitRef)
    .orderBy('line_no')
    .execute();
}

export async function insertSplit(
  db: Db,
  row: Insertable<PaymentSplitsTable>,
  lines: Omit<Insertable<PaymentSplitLinesTable>, 'split_ref'>[],
): Promise<SplitRow> {
  const split = await db.insertInto('payment_splits').values(row).returningAll().executeTakeFirstOrThrow();
  if (lines.length > 0)
    await db
      .insertInto('payment_split_lines')
      .values(lines.map((line) => ({ ...line, split_ref: split.id })))
      .execute();
  return split;
}

export interface SplitChange {
  status: SplitStatus;
  split_id?: string | null;
  fail_reason?: string | null;
  next_check_at?: Date | null;
}

/** Moves a split from the status and version it was read with; undefined if it moved meanwhile. */
export async function updateSplit(
  db: Db,
  current: Pick<SplitRow, 'id' | 'status' | 'version'>,
  change: SplitChange,
  now: Date,
): Promise<SplitRow | undefined> {
  return db
    .updateTable('payment_splits')
    .set({ ...change, update_date: now, version: current.version + 1 })
    .where('id', '=', current.id)
    .where('status', '=', current.status)
    .where('version', '=', current.version)
    .returningAll()
    .executeTakeFirst();
}

export async function updateSplitLine(
  db: Db,
  current: Pick<SplitLineRow, 'id' | 'result'>,
  change: {
    result: SplitLineStatus;
    fail_reason?: string | null;
    detail_id?: string | null;
    finished_at?: Date | null;
  },
): Promise<SplitLineRow | undefined> {
  return db
    .updateTable('payment_split_lines')
    .set(change)
    .where('id', '=', current.id)
    .where('result', '=', current.result)
    .returningAll()
    .executeTakeFirst();
}

export async function listSplits(db: Db, orderId: number): Promise<SplitRow[]> {
  return db.selectFrom('payment_splits').selectAll().where('order_id', '=', orderId).orderBy('id').execute();
}

export async function findReturn(
  db: Db,
  merchantId: string,
  outReturnNo: string,
): Promise<SplitReturnRow | undefined> {
  return db
    .selectFrom('payment_split_returns')
    .selectAll()
    .where('merchant_id', '=', merchantId)
    .where('out_return_no', '=', outReturnNo)
    .executeTakeFirst();
}

export async function lockReturn(
  tx: Transaction<Database>,
  merchantId: string,
  outReturnNo: string,
): Promise<SplitReturnRow | undefined> {
  return tx
    .selectFrom('payment_split_returns')
    .selectAll()
    .where('merchant_id', '=', merchantId)
    .where('out_return_no', '=', outReturnNo)
    .forUpdate()
    .executeTakeFirst();
}

export async function insertReturn(
  db: Db,
  row: Insertable<PaymentSplitReturnsTable>,
): Promise<SplitReturnRow> {
  return db.insertInto('payment_split_returns').values(row).returningAll().executeTakeFirstOrThrow();
}

export interface ReturnChange {
  status: SplitReturnStatus;
  return_id?: string | null;
  fail_reason?: string | null;
  finished_at?: Date | null;
  next_check_at?: Date | null;
}

export async function updateReturn(
  db: Db,
  current: Pick<SplitReturnRow, 'id' | 'status' | 'version'>,
  change: ReturnChange,
  now: Date,
): Promise<SplitReturnRow | undefined> {
  return db
    .updateTable('payment_split_returns')
    .set({ ...change, update_date: now, version: current.version + 1 })
    .where('id', '=', current.id)
    .where('status', '=', current.status)
    .where('version', '=', current.version)
    .returningAll()
    .executeTakeFirst();
}

export async function returnsOfRefund(db: Db, refundRef: number): Promise<SplitReturnRow[]> {
  return db.selectFrom('payment_split_returns').selectAll().where('refund_ref', '=', refundRef).execute();
}

export async function returnsOfOrder(db: Db, orderId: number): Promise<SplitReturnRow[]> {
  return db
    .selectFrom('payment_split_returns')
    .selectAll()
    .where('order_id', '=', orderId)
    .orderBy('id')
    .execute();
}

/** Every line of an order's splits with its split's status, newest split first. */
export async function orderSplitLines(
  db: Db,
  orderId: number,
): Promise<Array<SplitLineRow & { split_status: SplitStatus; out_split_no: string; split_ref: number }>> {
  return db
    .selectFrom('payment_split_lines as l')
    .innerJoin('payment_splits as s', 's.id', 'l.split_ref')
    .selectAll('l')
    .select(['s.status as split_status', 's.out_split_no as out_split_no'])
    .where('s.order_id', '=', orderId)
    .orderBy('s.id', 'desc')
    .orderBy('l.line_no')
    .execute() as Promise<
    Array<SplitLineRow & { split_status: SplitStatus; out_split_no: string; split_ref: number }>
  >;
}

/**
 * The order's split ledger as the store holds it. Read under the order's lock, it is what no
 * concurrent split, return or refund of the order can change until the transaction ends.
 */
export async function splitLedger(db: Db, order: Pick<OrderRow, 'id' | 'total_fee'>): Promise<SplitLedger> {
  const lines = await orderSplitLines(db, order.id);
  const returns = await returnsOfOrder(db, order.id);
  return {
    totalFen: order.total_fee,
    refundHeldFen: await heldRefundFen(db, order.id),
    splitHeldFen: lines
      .filter((line) => lineHoldsAmount(line.split_status, line.result))
      .reduce((sum, line) => sum + line.amount, 0),
    returnedFen: returns
      .filter((ret) => returnGivesBack(ret.status, ret.refund_ref !== null))
      .reduce((sum, ret) => sum + ret.amount, 0),
  };
}

/** Returns not known to have failed: what a receiver's line has given, or may yet give, back. */
export const RETURN_HOLDING: readonly SplitReturnStatus[] = RETURN_STATUSES.filter(
  (status) => status !== 'FAILED',
);

export async function splitsDue(
  db: Db,
  now: Date,
  providers: readonly string[],
  batchSize: number,
  minGapMs: number,
  maxGapMs: number,
): Promise<Array<{ merchant_id: string; out_split_no: string }>> {
  const { rows } = await sql<{ merchant_id: string; out_split_no: string }>`
    with due as (
      select id from payment_splits
      where next_check_at <= ${now} and provider = any(${providers})
        and status in ('UNKNOWN', 'PROCESSING')
      order by next_check_at, id
      limit ${batchSize}
      for update skip locked
    )
    update payment_splits t
    set next_check_at = ${now}::timestamptz + least(greatest(
          (${now}::timestamptz - t.create_date) / 2, ${minGapMs} * interval '1 millisecond'),
          ${maxGapMs} * interval '1 millisecond'),
        checks = t.checks + 1
    from due
    where t.id = due.id
    returning t.merchant_id, t.out_split_no
  `.execute(db);
  return rows;
}

export async function returnsDue(
  db: Db,
  now: Date,
  batchSize: number,
  minGapMs: number,
  maxGapMs: number,
): Promise<Array<{ merchant_id: string; out_return_no: string }>> {
  const { rows } = await sql<{ merchant_id: string; out_return_no: string }>`
    with due as (
      select id from payment_split_returns
      where next_check_at <= ${now} and refund_ref is null
        and status in ('UNKNOWN', 'PROCESSING')
      order by next_check_at, id
      limit ${batchSize}
      for update skip locked
    )
    update payment_split_returns t
    set next_check_at = ${now}::timestamptz + least(greatest(
          (${now}::timestamptz - t.create_date) / 2, ${minGapMs} * interval '1 millisecond'),
          ${maxGapMs} * interval '1 millisecond'),
        checks = t.checks + 1
    from due
    where t.id = due.id
    returning t.merchant_id, t.out_return_no
  `.execute(db);
  return rows;
}
