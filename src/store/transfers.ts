/** Reads and conditional writes of payment_transfers. */
import { type Insertable, type Kysely, sql, type Transaction } from 'kysely';
import { TRANSFER_STATUSES, type TransferStatus, transferHoldsLimit } from '../core/transfer-states.ts';
import type { Database, PaymentTransfersTable, TransferRow } from './schema.ts';

type Db = Kysely<Database> | Transaction<Database>;

export async function findTransfer(
  db: Db,
  merchantId: string,
  outTransferNo: string,
): Promise<TransferRow | undefined> {
  return db
    .selectFrom('payment_transfers')
    .selectAll()
    .where('merchant_id', '=', merchantId)
    .where('out_transfer_no', '=', outTransferNo)
    .executeTakeFirst();
}

export async function lockTransfer(
  tx: Transaction<Database>,
  merchantId: string,
  outTransferNo: string,
): Promise<TransferRow | undefined> {
  return tx
    .selectFrom('payment_transfers')
    .selectAll()
    .where('merchant_id', '=', merchantId)
    .where('out_transfer_no', '=', outTransferNo)
    .forUpdate()
    .executeTakeFirst();
}

/**
 * Serialises a merchant's new transfers until the transaction ends: the limit check and the insert
 * of one happen before the next one's check, so two cannot both take the last of a daily limit.
 */
export async function lockMerchantTransfers(tx: Transaction<Database>, merchantId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(${TRANSFER_LOCK_SPACE}, hashtext(${merchantId}))`.execute(tx);
}

/** An arbitrary constant: the advisory lock space of transfer limits. */
const TRANSFER_LOCK_SPACE = 7310;

const HOLDING = TRANSFER_STATUSES.filter(transferHoldsLimit);

/** Fen the merchant's transfers of one China date hold against its daily limit. */
export async function heldTransferFen(db: Db, merchantId: string, limitDate: string): Promise<number> {
  const row = await db
    .selectFrom('payment_transfers')
    .select(sql<number>`coalesce(sum(amount), 0)::bigint`.as('held'))
    .where('merchant_id', '=', merchantId)
    .where('limit_date', '=', limitDate)
    .where('status', 'in', HOLDING)
    .executeTakeFirstOrThrow();
  return Number(row.held);
}

export async function insertTransfer(db: Db, row: Insertable<PaymentTransfersTable>): Promise<TransferRow> {
  return db.insertInto('payment_transfers').values(row).returningAll().executeTakeFirstOrThrow();
}

export interface TransferChange {
  status: TransferStatus;
  transfer_id?: string | null;
  package_info?: string | null;
  fail_reason?: string | null;
  success_time?: Date | null;
  decided_by?: string | null;
  decision_note?: string | null;
  next_check_at?: Date | null;
}

/** Moves a transfer from the status and version it was read with; undefined if it moved meanwhile. */
export async function updateTransfer(
  db: Db,
  current: Pick<TransferRow, 'id' | 'status' | 'version'>,
  change: TransferChange,
  now: Date,
): Promise<TransferRow | undefined> {
  return db
    .updateTable('payment_transfers')
    .set({ ...change, update_date: now, version: current.version + 1 })
    .where('id', '=', current.id)
    .where('status', '=', current.status)
    .where('version', '=', current.version)
    .returningAll()
    .executeTakeFirst();
}

export interface TransferListFilter {
  status?: TransferStatus | undefined;
  limit?: number | undefined;
}

export async function listTransfers(
  db: Db,
  merchantIds: readonly string[] | null,
  filter: TransferListFilter,
): Promise<TransferRow[]> {
  let query = db.selectFrom('payment_transfers').selectAll();
  if (merchantIds) {
    if (merchantIds.length === 0) return [];
    query = query.where('merchant_id', 'in', merchantIds);
  }
  if (filter.status) query = query.where('status', '=', filter.status);
  return query
    .orderBy('id', 'desc')
    .limit(Math.min(Math.max(filter.limit ?? 50, 1), 200))
    .execute();
}
