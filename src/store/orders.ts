/** Reads and conditional writes of payment_orders. Every status change here is guarded by version. */
import { type Kysely, sql, type Transaction } from 'kysely';
import type { OrderStatus } from '../core/states.ts';
import type { Database, NewOrderRow, OrderRow } from './schema.ts';

type Db = Kysely<Database> | Transaction<Database>;

export async function findOrder(
  db: Db,
  merchantId: string,
  outTradeNo: string,
): Promise<OrderRow | undefined> {
  return db
    .selectFrom('payment_orders')
    .selectAll()
    .where('merchant_id', '=', merchantId)
    .where('out_trade_no', '=', outTradeNo)
    .executeTakeFirst();
}

export async function findOrderById(db: Db, id: number): Promise<OrderRow | undefined> {
  return db.selectFrom('payment_orders').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Reads the order and holds its row lock until the transaction ends. */
export async function lockOrder(
  tx: Transaction<Database>,
  merchantId: string,
  outTradeNo: string,
): Promise<OrderRow | undefined> {
  return tx
    .selectFrom('payment_orders')
    .selectAll()
    .where('merchant_id', '=', merchantId)
    .where('out_trade_no', '=', outTradeNo)
    .forUpdate()
    .executeTakeFirst();
}

export async function lockOrderById(tx: Transaction<Database>, id: number): Promise<OrderRow | undefined> {
  return tx.selectFrom('payment_orders').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

/** Inserts the order unless (merchant, out_trade_no) exists. Returns the new row, or undefined. */
export async function insertOrder(db: Db, row: NewOrderRow): Promise<OrderRow | undefined> {
  return db
    .insertInto('payment_orders')
    .values(row)
    .onConflict((conflict) => conflict.columns(['merchant_id', 'out_trade_no']).doNothing())
    .returningAll()
    .executeTakeFirst();
}

export interface OrderChange {
  status: OrderStatus;
  transaction_id?: string | null;
  refunded_fee?: number;
  paid_at?: Date | null;
  closed_at?: Date | null;
  user_order_success?: boolean;
  gateway_payload?: string | null;
  /** A switch of gateway: the new binding, and the earlier attempts as JSON. */
  provider?: string;
  scene?: string;
  mch_id?: string | null;
  app_id?: string | null;
  account?: string;
  route?: string | null;
  variant?: string | null;
  attempts?: string;
  /** The schedule: a payment code's confirmation window (its expiry) and its next check. */
  expire_at?: Date | null;
  next_check_at?: Date | null;
}

/**
 * Moves an order from the status and version it was read at. Returns the new row, or undefined when
 * someone else changed it first (the caller's read is stale).
 */
export async function updateOrder(
  db: Db,
  current: Pick<OrderRow, 'id' | 'status' | 'version'>,
  change: OrderChange,
  now: Date,
): Promise<OrderRow | undefined> {
  return db
    .updateTable('payment_orders')
    .set({ ...change, update_date: now, version: current.version + 1 })
    .where('id', '=', current.id)
    .where('status', '=', current.status)
    .where('version', '=', current.version)
    .returningAll()
    .executeTakeFirst();
}

export interface PayableMatch {
  merchantId: string;
  outTradeNo: string;
  provider: string;
  /** The statuses the state machine lets a payment arrive in. */
  payableStatuses: readonly OrderStatus[];
  amountFen: number;
  /** The gateway merchant and app of the result; an order that recorded others does not match. */
  mchId: string | null;
  appId: string | null;
  /** The account whose keys verified a callback; null for a query (asked through the order's own). */
  account?: string | null;
}

/**
 * Pays the order in one statement when it matches: the UPDATE takes the row lock, and a
 * concurrent payment re-checks the status after the first commits, so only one of them matches.
 * Returns the paid row, or undefined when anything differs (the caller then looks closer).
 */
export async function payOrderIfPayable(
  db: Db,
  match: PayableMatch,
  change: OrderChange,
  now: Date,
): Promise<OrderRow | undefined> {
  let update = db
    .updateTable('payment_orders')
    .set({ ...change, update_date: now, version: sql<number>`version + 1` })
    .where('merchant_id', '=', match.merchantId)
    .where('out_trade_no', '=', match.outTradeNo)
    .where('provider', '=', match.provider)
    .where('status', 'in', [...match.payableStatuses])
    .where('total_fee', '=', match.amountFen);
  if (match.account) update = update.where('account', '=', match.account);
  for (const [column, actual] of [
    ['mch_id', match.mchId],
    ['app_id', match.appId],
  ] as const) {
    if (actual !== null)
      update = update.where((eb) => eb.or([eb(column, 'is', null), eb(column, '=', actual)]));
  }
  return update.returningAll().executeTakeFirst();
}
