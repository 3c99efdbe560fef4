/** Reads and conditional writes of payment_refunds. */
import { type Kysely, sql, type Transaction } from 'kysely';
import { REFUND_STATUSES, type RefundStatus, refundHoldsAmount } from '../core/states.ts';
import type { Database, NewRefundRow, RefundRow } from './schema.ts';

type Db = Kysely<Database> | Transaction<Database>;

export async function findRefund(
  db: Db,
  merchantId: string,
  outRefundNo: string,
): Promise<RefundRow | undefined> {
  return db
    .selectFrom('payment_refunds')
    .selectAll()
    .where('merchant_id', '=', merchantId)
    .where('out_refund_no', '=', outRefundNo)
    .executeTakeFirst();
}

export async function lockRefund(tx: Transaction<Database>, id: number): Promise<RefundRow | undefined> {
  return tx.selectFrom('payment_refunds').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

export async function listRefunds(db: Db, orderId: number): Promise<RefundRow[]> {
  return db.selectFrom('payment_refunds').selectAll().where('order_id', '=', orderId).orderBy('id').execute();
}

/** Fen held by the order's refunds that succeeded, are in flight or are stuck awaiting a hand. */
const HOLDING_STATUSES = REFUND_STATUSES.filter(refundHoldsAmount);

export async function heldRefundFen(db: Db, orderId: number): Promise<number> {
  const row = await db
    .selectFrom('payment_refunds')
    .select(sql<number>`coalesce(sum(refund_fee), 0)::int`.as('held'))
    .where('order_id', '=', orderId)
    .where('status', 'in', HOLDING_STATUSES)
    .executeTakeFirstOrThrow();
  return row.held;
}

export async function insertRefund(db: Db, row: NewRefundRow): Promise<RefundRow> {
  return db.insertInto('payment_refunds').values(row).returningAll().executeTakeFirstOrThrow();
}

export interface RefundChange {
  status: RefundStatus;
  refund_id?: string | null;
  success_time?: Date | null;
  gateway_payload?: string | null;
}

export async function updateRefund(
  db: Db,
  current: Pick<RefundRow, 'id' | 'status' | 'version'>,
  change: RefundChange,
  now: Date,
): Promise<RefundRow | undefined> {
  return db
    .updateTable('payment_refunds')
    .set({ ...change, update_date: now, version: current.version + 1 })
    .where('id', '=', current.id)
    .where('status', '=', current.status)
    .where('version', '=', current.version)
    .returningAll()
    .executeTakeFirst();
}
