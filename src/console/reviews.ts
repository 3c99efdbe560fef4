/**
 * The console's review queue and reconciliation pages: reviews across the operator's merchants
 * with filters in keyset pages, and reconciled days with the mismatches each sent to the queue.
 * Resolving, listing one merchant's queue and the days themselves stay in the service.
 */
import { type Kysely, sql } from 'kysely';
import { PayError } from '../core/errors.ts';
import { DEFAULT_ACCOUNT } from '../providers/merchant-lookup.ts';
import type { ServiceContext } from '../service/context.ts';
import { listReconciledDays, type ReconciledDay } from '../service/reconcile.ts';
import { REVIEW_KINDS, type Review, type ReviewKind, toReview } from '../service/reviews.ts';
import type { Database } from '../store/schema.ts';
import { decodeCursor, encodeCursor, KEY_TIME_SQL } from './cursor.ts';
import { checkList, checkScope, checkTime } from './scope.ts';

export interface ReviewSearch {
  merchantIds?: readonly string[] | undefined;
  status?: 'OPEN' | 'RESOLVED' | 'ALL' | undefined;
  kind?: readonly ReviewKind[] | undefined;
  provider?: readonly string[] | undefined;
  from?: Date | string | undefined;
  to?: Date | string | undefined;
  limit?: number | undefined;
  after?: string | undefined;
}

export async function searchReviews(
  db: Kysely<Database>,
  search: ReviewSearch,
): Promise<{ rows: Review[]; next: string | null }> {
  const scope = checkScope(search.merchantIds);
  const kinds = checkList(search.kind, 'kind', REVIEW_KINDS);
  const providers = checkList(search.provider, 'provider');
  const from = checkTime(search.from, 'from');
  const to = checkTime(search.to, 'to');
  const status = search.status ?? 'OPEN';
  if (!['OPEN', 'RESOLVED', 'ALL'].includes(status))
    throw new PayError(40001, { field: 'status', message: 'status must be OPEN, RESOLVED or ALL' });
  const limit = search.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 200)
    throw new PayError(40001, { field: 'limit', message: 'limit must be 1 to 200' });
  const after = search.after ? decodeCursor(search.after) : null;
  if (scope !== undefined && scope.length === 0) return { rows: [], next: null };
  let query = db
    .selectFrom('payment_reviews')
    .selectAll()
    .select(sql<string>`${sql.raw(KEY_TIME_SQL)}`.as('create_key'))
    .orderBy('create_date', 'desc')
    .orderBy('id', 'desc')
    .limit(limit + 1);
  if (scope !== undefined) query = query.where('merchant_id', 'in', [...scope]);
  if (status !== 'ALL') query = query.where('status', '=', status);
  if (kinds) query = query.where('kind', 'in', kinds);
  if (providers) query = query.where('provider', 'in', providers);
  if (from) query = query.where('create_date', '>=', from);
  if (to) query = query.where('create_date', '<', to);
  if (after)
    query = query.where(
      sql<boolean>`(create_date, id) < (${after.createdAt}::timestamptz, ${after.id}::bigint)`,
    );
  const found = await query.execute();
  const page = found.slice(0, limit);
  const tail = page.at(-1);
  return {
    rows: page.map(({ create_key: _key, ...row }) => toReview(row)),
    next:
      found.length > limit && tail ? encodeCursor({ createdAt: tail.create_key, id: Number(tail.id) }) : null,
  };
}

export interface ReconciliationDay extends ReconciledDay {
  /** The bill_mismatch cases this day's bill raised, open or resolved. */
  mismatches: Review[];
}

/** Reconciled days of the operator's merchants, newest first, each with its mismatches. */
export async function reconciliationDays(
  context: ServiceContext,
  filter: {
    merchantIds?: readonly string[] | undefined;
    provider?: string | undefined;
    account?: string | undefined;
    from?: string | undefined;
    to?: string | undefined;
    limit?: number | undefined;
  } = {},
): Promise<ReconciliationDay[]> {
  const scope = checkScope(filter.merchantIds);
  for (const field of ['from', 'to'] as const) {
    const value = filter[field];
    if (value !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(value))
      throw new PayError(40001, { field, message: `${field} must be YYYY-MM-DD` });
  }
  const days = await listReconciledDays(context, {
    ...(scope === undefined ? {} : { merchantIds: scope }),
    ...(filter.provider ? { provider: filter.provider } : {}),
    ...(filter.account ? { account: filter.account } : {}),
    ...(filter.from ? { from: filter.from } : {}),
    ...(filter.to ? { to: filter.to } : {}),
    ...(filter.limit ? { limit: filter.limit } : {}),
  });
  if (days.length === 0) return [];
  const mismatches = await context.store.db
    .selectFrom('payment_reviews')
    .selectAll()
    .where('kind', '=', 'bill_mismatch')
    .where('merchant_id', 'in', [...new Set(days.map((day) => day.merchantId))])
    .where(sql<string>`details->>'date'`, 'in', [...new Set(days.map((day) => day.date))])
    .orderBy('id')
    .execute();
  const reviews = mismatches.map(toReview);
  return days.map((day) => ({
    ...day,
    mismatches: reviews.filter(
      (review) =>
        review.merchantId === day.merchantId &&
        review.provider === day.provider &&
        (review.details as { date?: string } | null)?.date === day.date &&
        // Mismatches found before accounts existed name none: they are `default`'s.
        ((review.details as { account?: string } | null)?.account ?? DEFAULT_ACCOUNT) === day.account,
    ),
  }));
}
