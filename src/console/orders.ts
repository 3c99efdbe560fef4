/**
 * Order search for the console: exact lookups by out_trade_no or transaction id, filters by user,
 * status, provider, amount and date, newest first, in keyset pages on (create_date, id) so a page
 * costs the same however deep it is and rows inserted meanwhile never shift the next page. A page
 * has the cursor of the one after it and of the one before it, both keysets.
 */
import { type Kysely, sql } from 'kysely';
import { PayError } from '../core/errors.ts';
import { ORDER_STATUSES, type OrderStatus } from '../core/states.ts';
import type { Database } from '../store/schema.ts';
import { decodeCursor, encodeCursor, KEY_TIME_SQL, type RowKey } from './cursor.ts';
import { checkFen, checkList, checkScope, checkText, checkTime, iso, type MerchantScope } from './scope.ts';

export interface OrderSearch {
  /** The operator's merchants: undefined for all, [] for none. */
  merchantIds?: readonly string[] | undefined;
  outTradeNo?: string | undefined;
  transactionId?: string | undefined;
  userId?: string | undefined;
  status?: readonly OrderStatus[] | undefined;
  provider?: readonly string[] | undefined;
  minFen?: number | undefined;
  maxFen?: number | undefined;
  /** Created at or after. */
  from?: Date | string | undefined;
  /** Created before. */
  to?: Date | string | undefined;
  /** Rows a page, 1 to 200 (50 by default). */
  limit?: number | undefined;
  /** The `next` of the previous page. */
  after?: string | undefined;
  /** The `previous` of a page: the rows just newer than its first (not with `after`). */
  before?: string | undefined;
}

/** An order as the console lists it: no custom data, no gateway payload. */
export interface ConsoleOrderRow {
  merchantId: string;
  outTradeNo: string;
  transactionId: string | null;
  provider: string;
  scene: string;
  type: string;
  subject: string;
  totalFen: number;
  refundedFen: number;
  status: OrderStatus;
  userId: string | null;
  paidAt: string | null;
  closedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface OrderPage {
  rows: ConsoleOrderRow[];
  /** The cursor of the next page, or null on the last. */
  next: string | null;
  /** The cursor of the page before (newer rows), or null on the first. */
  previous: string | null;
}

export const MAX_PAGE = 200;
const DEFAULT_PAGE = 50;

interface CheckedSearch {
  scope: MerchantScope;
  outTradeNo: string | undefined;
  transactionId: string | undefined;
  userId: string | undefined;
  status: OrderStatus[] | undefined;
  provider: string[] | undefined;
  minFen: number | undefined;
  maxFen: number | undefined;
  from: Date | undefined;
  to: Date | undefined;
}

export function checkOrderSearch(search: OrderSearch): CheckedSearch {
  const checked: CheckedSearch = {
    scope: checkScope(search.merchantIds),
    outTradeNo: checkText(search.outTradeNo, 'outTradeNo'),
    transactionId: checkText(search.transactionId, 'transactionId'),
    userId: checkText(search.userId, 'userId'),
    status: checkList(search.status, 'status', ORDER_STATUSES),
    provider: checkList(search.provider, 'provider'),
    minFen: checkFen(search.minFen, 'minFen'),
    maxFen: checkFen(search.maxFen, 'maxFen'),
    from: checkTime(search.from, 'from'),
    to: checkTime(search.to, 'to'),
  };
  if (checked.minFen !== undefined && checked.maxFen !== undefined && checked.minFen > checked.maxFen)
    throw new PayError(40001, { field: 'minFen', message: 'minFen is above maxFen' });
  return checked;
}

function pageSize(limit: unknown): number {
  if (limit === undefined || limit === null) return DEFAULT_PAGE;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE)
    throw new PayError(40001, { field: 'limit', message: `limit must be 1 to ${MAX_PAGE}` });
  return limit;
}

export async function searchOrders(db: Kysely<Database>, search: OrderSearch): Promise<OrderPage> {
  const checked = checkOrderSearch(search);
  const limit = pageSize(search.limit);
  const after = search.after === undefined || search.after === '' ? null : decodeCursor(search.after);
  const before =
    search.before === undefined || search.before === '' ? null : decodeCursor(search.before, 'before');
  if (after && before)
    throw new PayError(40001, { field: 'before', message: 'give after or before, not both' });
  if (before) {
    // Newer rows, nearest first, then turned back to newest first; the page we came from follows.
    const { rows, last } = await orderPage(db, checked, before, limit, 'newer');
    rows.reverse();
    return { rows, next: keyOf(rows.at(-1)), previous: last ? keyOf(rows[0]) : null };
  }
  const { rows, last } = await orderPage(db, checked, after, limit);
  return { rows, next: last ? encodeCursor(last) : null, previous: after ? keyOf(rows[0]) : null };
}

function keyOf(row: (ConsoleOrderRow & { key?: RowKey }) | undefined): string | null {
  return row?.key ? encodeCursor(row.key) : null;
}

/** One page after `after`; `last` is the key of its last row when more rows follow. */
export async function orderPage(
  db: Kysely<Database>,
  search: CheckedSearch,
  after: RowKey | null,
  limit: number,
  direction: 'older' | 'newer' = 'older',
): Promise<{ rows: ConsoleOrderRow[]; last: RowKey | null }> {
  if (search.scope !== undefined && search.scope.length === 0) return { rows: [], last: null };
  const found = await orderPageQuery(db, search, after, limit, direction).execute();
  const more = found.length > limit;
  const page = more ? found.slice(0, limit) : found;
  const tail = page.at(-1);
  return {
    rows: page.map((row) =>
      withKey(row, {
        merchantId: row.merchant_id,
        outTradeNo: row.out_trade_no,
        transactionId: row.transaction_id,
        provider: row.provider,
        scene: row.scene,
        type: row.type,
        subject: row.subject,
        totalFen: row.total_fee,
        refundedFen: row.refunded_fee,
        status: row.status,
        userId: row.user_id,
        paidAt: iso(row.paid_at),
        closedAt: iso(row.closed_at),
        createdAt: iso(row.create_date)!,
        updatedAt: iso(row.update_date)!,
      }),
    ),
    last: more && tail ? { createdAt: tail.create_key, id: Number(tail.id) } : null,
  };
}

/** The row's keyset key, kept beside it (not enumerable: the row's fields stay what the listing shows). */
function withKey(row: { create_key: string; id: number | string }, shown: ConsoleOrderRow): ConsoleOrderRow {
  return Object.defineProperty(shown, 'key', {
    value: { createdAt: row.create_key, id: Number(row.id) } satisfies RowKey,
    enumerable: false,
  });
}

/** The statement of one page (limit + 1 rows, to know whether more follow); the bench explains it. */
export function orderPageQuery(
  db: Kysely<Database>,
  search: CheckedSearch,
  after: RowKey | null,
  limit: number,
  direction: 'older' | 'newer' = 'older',
) {
  const order = direction === 'older' ? 'desc' : 'asc';
  let query = db
    .selectFrom('payment_orders')
    .select([
      'id',
      'merchant_id',
      'out_trade_no',
      'transaction_id',
      'provider',
      'scene',
      'type',
      'subject',
      'total_fee',
      'refunded_fee',
      'status',
      'user_id',
      'paid_at',
      'closed_at',
      'create_date',
      'update_date',
      sql<string>`${sql.raw(KEY_TIME_SQL)}`.as('create_key'),
    ])
    .orderBy('create_date', order)
    .orderBy('id', order)
    .limit(limit + 1);
  const { scope } = search;
  if (scope !== undefined)
    query =
      scope.length === 1
        ? query.where('merchant_id', '=', scope[0]!)
        : query.where('merchant_id', 'in', scope);
  if (search.outTradeNo !== undefined) query = query.where('out_trade_no', '=', search.outTradeNo);
  if (search.transactionId !== undefined) query = query.where('transaction_id', '=', search.transactionId);
  if (search.userId !== undefined) query = query.where('user_id', '=', search.userId);
  if (search.status) query = query.where('status', 'in', search.status);
  if (search.provider) query = query.where('provider', 'in', search.provider);
  if (search.minFen !== undefined) query = query.where('total_fee', '>=', search.minFen);
  if (search.maxFen !== undefined) query = query.where('total_fee', '<=', search.maxFen);
  if (search.from) query = query.where('create_date', '>=', search.from);
  if (search.to) query = query.where('create_date', '<', search.to);
  if (after)
    query = query.where(
      direction === 'older'
        ? sql<boolean>`(create_date, id) < (${after.createdAt}::timestamptz, ${after.id}::bigint)`
        : sql<boolean>`(create_date, id) > (${after.createdAt}::timestamptz, ${after.id}::bigint)`,
    );
  return query;
}
