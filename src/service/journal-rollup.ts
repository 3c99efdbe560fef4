/**
 * The journal (payment_logs) summed per closed hour into journal_hourly, for the console's
 * overview: a background job rolls hours up oldest first, a bounded batch per transaction, and
 * records how far it got in the same transaction, so a stopped instance resumes where it left off
 * and a batch done twice writes the same rows. Hours after the recorded point are read from the
 * journal itself. Both paths aggregate with `journalCells`, so they count alike, and keep response
 * times in the same fixed histogram (src/service/latency-histogram.ts).
 */
import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { ServiceContext } from './context.ts';
import { runEvery } from './jobs.ts';
import { latencyBucketSql } from './latency-histogram.ts';
import { CALLER_ERROR_CODES } from './monitoring.ts';

/** The payment_logs types that are calls to a gateway, with a response time worth charting. */
export const GATEWAY_OPERATIONS: readonly string[] = ['create', 'query', 'close', 'refund', 'refund_query'];

/** Buckets and hours start at China midnight (and so on every whole hour). */
export const BUCKET_ORIGIN = sql`'2000-01-01 00:00:00+08'::timestamptz`;
const ORIGIN_MS = Date.parse('2000-01-01T00:00:00+08:00');
const HOUR_MS = 3600_000;

/** The periods journal_periods sums hours over (6 hours, a day), in seconds, longest first. */
export const PERIOD_SECONDS: readonly number[] = [86_400, 21_600];

/** The start of the period of `seconds` that `ms` falls in (periods start at China midnight). */
export const periodStart = (ms: number, seconds: number) =>
  ORIGIN_MS + Math.floor((ms - ORIGIN_MS) / (seconds * 1000)) * seconds * 1000;

export interface RollupOptions {
  /** An hour is rolled up once it ended this long ago: rows of transactions still open get in. */
  graceMs: number;
  /** Hours per transaction. */
  batchHours: number;
  /** Transactions per tick, so a first run over a long history catches up over several ticks. */
  maxBatches: number;
}

export const DEFAULT_ROLLUP: RollupOptions = { graceMs: 5 * 60_000, batchHours: 24, maxBatches: 30 };

/**
 * Which journal rows count: every row once ('all'); the payment rows of a listed merchant's orders
 * (a list); or per merchant, the payment rows of its orders ('each', what the rollup keeps). A row
 * from before the journal named its merchant counts for each merchant with an order of its number.
 */
export type JournalScope = 'all' | 'each' | readonly string[];

/** A journal cell: the rows of one bucket, merchant, provider and operation, summed. */
export interface JournalCell {
  at: Date;
  /** '' unless the scope is 'each'. */
  merchant_id: string;
  provider: string;
  operation: string;
  events: number;
  /** Rows failed for the system's reasons (not CALLER_ERROR_CODES). */
  errors: number;
  /** Gateway calls with a response time, and those that failed. */
  calls: number;
  call_errors: number;
  /** The histogram's buckets that calls fell in (the values standing for them), ascending. */
  latency_ms: number[];
  latency_counts: number[];
}

/** The cells of [from, to) in buckets of `stepSeconds`, as one select. */
export function journalCells(
  scope: JournalScope,
  from: Date,
  to: Date,
  stepSeconds: number,
): RawBuilder<JournalCell> {
  const bin = sql`date_bin(${stepSeconds}::int * interval '1 second', l.create_date, ${BUCKET_ORIGIN})`;
  const gateway = sql`(l.type in (${sql.join([...GATEWAY_OPERATIONS])}) and l.provider is not null
    and l.response_ms is not null)`;
  const systemError = sql`(l.status = 'ERROR' and not (coalesce(l.error->>'code', '') ~ '^[0-9]+$'
    and (l.error->>'code')::int in (${sql.join([...CALLER_ERROR_CODES])})))`;
  // A row counts for the merchant of the order it names: a payment's row (not a transfer's of the
  // same number) of that merchant, or of any merchant with that number when the row names none.
  const named = sql`o.out_trade_no = l.out_trade_no and l.subject_kind = 'payment'
    and (l.merchant_id is null or l.merchant_id = o.merchant_id)`;
  const orders =
    scope === 'all'
      ? sql``
      : scope === 'each'
        ? sql`join payment_orders o on ${named}`
        : scope.length === 0
          ? sql`join payment_orders o on false`
          : sql`join payment_orders o on ${named} and o.merchant_id in (${sql.join(scope)})`;
  const merchant = scope === 'each' ? sql`o.merchant_id` : sql`''`;
  return sql<JournalCell>`
    select at, merchant_id, provider, operation,
      sum(events)::int as events, sum(errors)::int as errors,
      sum(calls)::int as calls, sum(call_errors)::int as call_errors,
      coalesce(array_agg(ms order by ms) filter (where ms is not null), '{}')::int[] as latency_ms,
      coalesce(array_agg(calls order by ms) filter (where ms is not null), '{}')::int[] as latency_counts
    from (
      select ${bin} as at, ${merchant}::text as merchant_id, coalesce(l.provider, '') as provider,
        l.type as operation, case when ${gateway} then ${sql.raw(latencyBucketSql('l.response_ms'))} end as ms,
        count(*) as events, count(*) filter (where ${systemError}) as errors,
        count(*) filter (where ${gateway}) as calls,
        count(*) filter (where ${gateway} and l.status = 'ERROR') as call_errors
      from payment_logs l ${orders}
      where l.create_date >= ${from} and l.create_date < ${to}
      group by 1, 2, 3, 4, 5
    ) as cells
    group by 1, 2, 3, 4`;
}

const PROGRESS = 'journal';

/** Every hour before this is in journal_hourly; null before the first roll-up. */
export async function rolledUntil(db: Kysely<Database>): Promise<Date | null> {
  const row = await db
    .selectFrom('journal_rollup_progress')
    .select('rolled_until')
    .where('name', '=', PROGRESS)
    .executeTakeFirst();
  return row ? new Date(row.rolled_until) : null;
}

const floorHour = (ms: number) => Math.floor(ms / HOUR_MS) * HOUR_MS;

/**
 * Rolls up one batch of closed hours, in one transaction that also moves the recorded point: the
 * hours' rows are written anew (a batch done twice writes the same rows), and an instance doing it
 * at the same time waits on the progress row and then finds the hours done. Returns the hours done.
 */
export async function rollUpJournalBatch(
  db: Kysely<Database>,
  now: Date,
  options: RollupOptions = DEFAULT_ROLLUP,
): Promise<{ hours: number; rolledUntil: Date }> {
  const closedUntil = floorHour(now.getTime() - options.graceMs);
  return db.transaction().execute(async (tx) => {
    // The first run starts at the journal's oldest hour (or at the current one on an empty journal).
    const oldest = await sql<{ at: Date | null }>`select min(create_date) as at from payment_logs`.execute(
      tx,
    );
    const start = oldest.rows[0]?.at ? floorHour(new Date(oldest.rows[0].at).getTime()) : closedUntil;
    await sql`insert into journal_rollup_progress (name, rolled_until) values (${PROGRESS}, ${new Date(start)})
      on conflict (name) do nothing`.execute(tx);
    const progress = await sql<{ rolled_until: Date }>`select rolled_until from journal_rollup_progress
      where name = ${PROGRESS} for update`.execute(tx);
    const from = new Date(progress.rows[0]!.rolled_until).getTime();
    const to = Math.min(closedUntil, from + options.batchHours * HOUR_MS);
    if (to <= from) return { hours: 0, rolledUntil: new Date(from) };
    const [fromDate, toDate] = [new Date(from), new Date(to)];
    await tx.deleteFrom('journal_hourly').where('hour', '>=', fromDate).where('hour', '<', toDate).execute();
    const columns = sql`(hour, merchant_id, provider, operation, events, errors, calls, call_errors,
      latency_ms, latency_counts)`;
    for (const scope of ['all', 'each'] as const) {
      await sql`insert into journal_hourly ${columns}
        select at, merchant_id, provider, operation, events, errors, calls, call_errors, latency_ms, latency_counts
        from (${journalCells(scope, fromDate, toDate, 3600)}) as cells`.execute(tx);
    }
    // The periods whose last hour this batch rolled up, summed from their hours anew.
    for (const seconds of PERIOD_SECONDS) {
      const [first, end] = [new Date(periodStart(from, seconds)), new Date(periodStart(to, seconds))];
      if (end <= first) continue;
      await tx
        .deleteFrom('journal_periods')
        .where('seconds', '=', seconds)
        .where('start', '>=', first)
        .where('start', '<', end)
        .execute();
      await sql`
        with hours as (
          select merchant_id, date_bin(${seconds}::int * interval '1 second', hour, ${BUCKET_ORIGIN}) as start,
            provider, operation, events, errors, calls, call_errors, latency_ms, latency_counts
          from journal_hourly where hour >= ${first} and hour < ${end}
        ), sums as (
          select merchant_id, start, provider, operation, sum(events)::int as events, sum(errors)::int as errors,
            sum(calls)::int as calls, sum(call_errors)::int as call_errors
          from hours group by 1, 2, 3, 4
        ), histograms as (
          select merchant_id, start, provider, operation,
            array_agg(ms order by ms) as latency_ms, array_agg(calls order by ms) as latency_counts
          from (
            select h.merchant_id, h.start, h.provider, h.operation, u.ms, sum(u.calls)::int as calls
            from hours h cross join lateral unnest(h.latency_ms, h.latency_counts) as u(ms, calls)
            group by 1, 2, 3, 4, 5
          ) as buckets
          group by 1, 2, 3, 4
        )
        insert into journal_periods (seconds, merchant_id, start, provider, operation, events, errors, calls,
          call_errors, latency_ms, latency_counts)
        select ${seconds}, s.merchant_id, s.start, s.provider, s.operation, s.events, s.errors, s.calls,
          s.call_errors, coalesce(h.latency_ms, '{}'), coalesce(h.latency_counts, '{}')
        from sums s left join histograms h using (merchant_id, start, provider, operation)`.execute(tx);
    }
    await tx
      .updateTable('journal_rollup_progress')
      .set({ rolled_until: toDate, updated_at: now })
      .where('name', '=', PROGRESS)
      .execute();
    return { hours: (to - from) / HOUR_MS, rolledUntil: toDate };
  });
}

/** Rolls up closed hours, at most options.maxBatches batches. Returns the hours done. */
export async function rollUpJournal(
  db: Kysely<Database>,
  now: Date,
  options: RollupOptions = DEFAULT_ROLLUP,
): Promise<number> {
  let hours = 0;
  for (let batch = 0; batch < options.maxBatches; batch++) {
    const done = await rollUpJournalBatch(db, now, options);
    hours += done.hours;
    if (done.hours < options.batchHours) break;
  }
  return hours;
}

/**
 * Rolls up closed hours every `intervalMs` on one instance at a time (a cache lock, as the other
 * jobs take; the progress row keeps two at once correct anyway). Returns the stop function.
 */
export function startJournalRollupJob(
  context: ServiceContext,
  intervalMs: number,
  options: RollupOptions = DEFAULT_ROLLUP,
): () => void {
  return runEvery(context, intervalMs, 'journal rollup', async () => {
    if (!(await context.cache.setIfAbsent('job:journal-rollup', 1, Math.max(intervalMs - 100, 1000)))) return;
    const hours = await rollUpJournal(context.store.db, context.now(), options);
    if (hours > 0) context.logger.info({ hours }, 'journal hours rolled up');
  });
}
