/**
 * The console's overview of a range (1 minute to 90 days): per time bucket, payments created and
 * paid, the success rate, the paid amount, refunds, and the error rate of the journal beside the
 * alert threshold; gateway response times p50/p95/p99 per provider and operation; open reviews.
 * Every figure is aggregated in SQL (date_bin buckets, China-midnight aligned); only the buckets
 * come back.
 */
import { type Kysely, type RawBuilder, sql } from 'kysely';
import { PayError } from '../core/errors.ts';
import { CALLER_ERROR_CODES, DEFAULT_ALERTS } from '../service/monitoring.ts';
import type { Database } from '../store/schema.ts';
import { checkScope, checkTime, type MerchantScope } from './scope.ts';
import { GATEWAY_OPERATIONS } from './timeline.ts';

/** Bucket widths the overview offers, in seconds. */
export const BUCKETS = {
  '1m': 60,
  '5m': 300,
  '15m': 900,
  '1h': 3600,
  '6h': 21_600,
  '1d': 86_400,
} as const;
export type Bucket = keyof typeof BUCKETS;

const MAX_RANGE_MS = 90 * 86_400_000 + 60_000;
const MAX_BUCKETS = 2000;
/** The chosen width keeps a chart to at most this many points. */
const TARGET_BUCKETS = 200;

export interface OverviewRequest {
  merchantIds?: readonly string[] | undefined;
  from: Date | string;
  to: Date | string;
  /** Chosen from the range when absent: 1m for an hour, 1h for a week, 1d for 90 days. */
  bucket?: Bucket | undefined;
}

export interface OverviewBucket {
  at: string;
  created: number;
  paid: number;
  successRate: number | null;
  paidFen: number;
  /** Refunds asked for in the bucket that succeeded, and their amount. */
  refunds: number;
  refundFen: number;
  /** Journal rows (payment events), and those failed for the system's reasons. */
  events: number;
  errors: number;
  errorRate: number | null;
}

export interface LatencyFigures {
  provider: string;
  operation: string;
  calls: number;
  errors: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
}

export interface Overview {
  from: string;
  to: string;
  bucket: Bucket;
  buckets: OverviewBucket[];
  totals: Omit<OverviewBucket, 'at'>;
  /** Gateway calls over the whole range. */
  latency: LatencyFigures[];
  /** Gateway response times per bucket, provider and operation (the chart's lines). */
  latencySeries: Array<LatencyFigures & { at: string }>;
  reviews: { open: number; openedInRange: number };
  /** The monitor's alert rule, to draw beside the error rate. */
  alert: { threshold: number; windowMinutes: number; minEvents: number };
  /** Alerts are sent and kept in the cache, not stored: the history is the error rate above. */
  alertsFired: null;
}

export function chooseBucket(rangeMs: number): Bucket {
  for (const [name, seconds] of Object.entries(BUCKETS) as Array<[Bucket, number]>)
    if (rangeMs / (seconds * 1000) <= TARGET_BUCKETS) return name;
  return '1d';
}

const ratio = (part: number, whole: number) => (whole > 0 ? part / whole : null);
const rounded = (value: number | null) => (value === null ? null : Math.round(value));

/** `merchant_id in (...)` for a column, or true for every merchant. */
function merchantFilter(scope: MerchantScope, column: string): RawBuilder<boolean> {
  if (scope === undefined) return sql<boolean>`true`;
  if (scope.length === 0) return sql<boolean>`false`;
  return sql<boolean>`${sql.ref(column)} in (${sql.join(scope)})`;
}

/** Journal rows of the scope's orders: the journal names an order by out_trade_no alone. */
function journalFilter(scope: MerchantScope): RawBuilder<boolean> {
  if (scope === undefined) return sql<boolean>`true`;
  if (scope.length === 0) return sql<boolean>`false`;
  // A semi-join PostgreSQL hashes once, not a lookup per journal row.
  return sql<boolean>`l.out_trade_no in (select o.out_trade_no from payment_orders o
    where o.merchant_id in (${sql.join(scope)}))`;
}

export async function overview(db: Kysely<Database>, request: OverviewRequest): Promise<Overview> {
  const scope = checkScope(request.merchantIds);
  const from = checkTime(request.from, 'from');
  const to = checkTime(request.to, 'to');
  if (!from || !to)
    throw new PayError(40001, { field: from ? 'to' : 'from', message: 'from and to are required' });
  const rangeMs = to.getTime() - from.getTime();
  if (rangeMs < 60_000 || rangeMs > MAX_RANGE_MS)
    throw new PayError(40001, { field: 'to', message: 'the range must be 1 minute to 90 days' });
  if (request.bucket !== undefined && !(request.bucket in BUCKETS))
    throw new PayError(40001, {
      field: 'bucket',
      message: `bucket must be one of ${Object.keys(BUCKETS).join(', ')}`,
    });
  const bucket = request.bucket ?? chooseBucket(rangeMs);
  const seconds = BUCKETS[bucket];
  if (rangeMs / (seconds * 1000) > MAX_BUCKETS)
    throw new PayError(40001, {
      field: 'bucket',
      message: `bucket ${bucket} makes too many points for this range`,
    });
  // Buckets start at China midnight (and so on every whole hour and minute).
  const step = sql`(${seconds}::int * interval '1 second')`;
  const origin = sql`'2000-01-01 00:00:00+08'::timestamptz`;
  const bin = (column: string) => sql`date_bin(${step}, ${sql.ref(column)}, ${origin})`;

  const [series, journal, reviews] = await Promise.all([
    sql<{
      at: Date;
      created: number;
      paid: number;
      paid_fen: number;
      refunds: number;
      refund_fen: number;
    }>`
      with buckets as (
        select generate_series(date_bin(${step}, ${from}::timestamptz, ${origin}),
                               ${to}::timestamptz - interval '1 microsecond', ${step}) as at
      ), orders as (
        select ${bin('create_date')} as at, count(*)::int as created,
          (count(*) filter (where status in ('SUCCESS', 'PARTIAL_REFUNDED', 'REFUNDED')))::int as paid,
          coalesce(sum(total_fee) filter (where status in ('SUCCESS', 'PARTIAL_REFUNDED', 'REFUNDED')), 0)::int8 as paid_fen
        from payment_orders
        where create_date >= ${from} and create_date < ${to} and ${merchantFilter(scope, 'merchant_id')}
        group by 1
      ), refunds as (
        select ${bin('create_date')} as at, count(*)::int as refunds, sum(refund_fee)::int8 as refund_fen
        from payment_refunds
        where create_date >= ${from} and create_date < ${to} and status = 'SUCCESS'
          and ${merchantFilter(scope, 'merchant_id')}
        group by 1
      )
      select b.at, coalesce(o.created, 0) as created, coalesce(o.paid, 0) as paid,
        coalesce(o.paid_fen, 0) as paid_fen, coalesce(r.refunds, 0) as refunds,
        coalesce(r.refund_fen, 0) as refund_fen
      from buckets b
        left join orders o on o.at = b.at
        left join refunds r on r.at = b.at
      order by b.at`.execute(db),
    journalQuery(db, scope, from, to, bin('l.create_date')),
    sql<{ open: number; opened: number }>`
      select (count(*) filter (where status = 'OPEN'))::int as open,
        (count(*) filter (where create_date >= ${from} and create_date < ${to}))::int as opened
      from payment_reviews where ${merchantFilter(scope, 'merchant_id')}`.execute(db),
  ]);

  const buckets = series.rows.map((row) => {
    const at = new Date(row.at).toISOString();
    const logged = journal.buckets.get(at);
    const figures = {
      created: row.created,
      paid: row.paid,
      paidFen: Number(row.paid_fen),
      refunds: row.refunds,
      refundFen: Number(row.refund_fen),
      events: logged?.events ?? 0,
      errors: logged?.errors ?? 0,
    };
    return {
      at,
      ...figures,
      successRate: ratio(figures.paid, figures.created),
      errorRate: ratio(figures.errors, figures.events),
    };
  });
  const sum = (pick: (bucket: OverviewBucket) => number) => buckets.reduce((total, b) => total + pick(b), 0);
  const totals = {
    created: sum((b) => b.created),
    paid: sum((b) => b.paid),
    paidFen: sum((b) => b.paidFen),
    refunds: sum((b) => b.refunds),
    refundFen: sum((b) => b.refundFen),
    events: sum((b) => b.events),
    errors: sum((b) => b.errors),
  };
  const review = reviews.rows[0] ?? { open: 0, opened: 0 };
  return {
    from: from.toISOString(),
    to: to.toISOString(),
    bucket,
    buckets,
    totals: {
      ...totals,
      successRate: ratio(totals.paid, totals.created),
      errorRate: ratio(totals.errors, totals.events),
    },
    latency: journal.latency,
    latencySeries: journal.latencySeries,
    reviews: { open: review.open, openedInRange: review.opened },
    alert: {
      threshold: DEFAULT_ALERTS.threshold,
      windowMinutes: DEFAULT_ALERTS.windowMs / 60_000,
      minEvents: DEFAULT_ALERTS.minEvents,
    },
    alertsFired: null,
  };
}

/**
 * The journal in one scan: per bucket, events and system errors; per bucket, provider and
 * operation, and per provider and operation over the range, gateway calls and their response-time
 * percentiles (grouping sets, so PostgreSQL reads the rows once for all three).
 */
async function journalQuery(
  db: Kysely<Database>,
  scope: MerchantScope,
  from: Date,
  to: Date,
  bin: RawBuilder<unknown>,
): Promise<{
  buckets: Map<string, { events: number; errors: number }>;
  latency: LatencyFigures[];
  latencySeries: Array<LatencyFigures & { at: string }>;
}> {
  const result = await sql<{
    at: Date | null;
    provider: string | null;
    operation: string | null;
    by_bucket: boolean;
    events: number;
    errors: number;
    calls: number;
    call_errors: number;
    p: number[] | null;
  }>`
    select at, provider, operation, grouping(provider, operation) = 3 as by_bucket,
      count(*)::int as events, (count(*) filter (where system_error))::int as errors,
      (count(*) filter (where gateway))::int as calls,
      (count(*) filter (where gateway and status = 'ERROR'))::int as call_errors,
      percentile_cont(array[0.5, 0.95, 0.99]::float8[]) within group (order by response_ms)
        filter (where gateway) as p
    from (
      select ${bin} as at, l.provider, l.type as operation, l.status, l.response_ms,
        l.type in (${sql.join([...GATEWAY_OPERATIONS])}) and l.provider is not null
          and l.response_ms is not null as gateway,
        l.status = 'ERROR' and not (coalesce(l.error->>'code', '') ~ '^[0-9]+$'
          and (l.error->>'code')::int in (${sql.join([...CALLER_ERROR_CODES])})) as system_error
      from payment_logs l
      where l.create_date >= ${from} and l.create_date < ${to} and ${journalFilter(scope)}
    ) as journal
    group by grouping sets ((at), (at, provider, operation), (provider, operation))
    order by at nulls first, provider, operation`.execute(db);
  const buckets = new Map<string, { events: number; errors: number }>();
  const latency: LatencyFigures[] = [];
  const latencySeries: Array<LatencyFigures & { at: string }> = [];
  for (const row of result.rows) {
    if (row.by_bucket) {
      buckets.set(new Date(row.at!).toISOString(), { events: row.events, errors: row.errors });
      continue;
    }
    if (row.calls === 0) continue;
    const figures: LatencyFigures = {
      provider: row.provider!,
      operation: row.operation!,
      calls: row.calls,
      errors: row.call_errors,
      p50Ms: rounded(row.p?.[0] ?? null),
      p95Ms: rounded(row.p?.[1] ?? null),
      p99Ms: rounded(row.p?.[2] ?? null),
    };
    if (row.at === null) latency.push(figures);
    else latencySeries.push({ at: new Date(row.at).toISOString(), ...figures });
  }
  return { buckets, latency, latencySeries };
}
