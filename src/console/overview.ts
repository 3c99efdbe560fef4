/**
 * The console's overview of a range (1 minute to 90 days): per time bucket, payments created and
 * paid, the success rate, the paid amount, refunds, and the error rate of the journal beside the
 * alert threshold; gateway response times p50/p95/p99 per provider and operation; open reviews;
 * alerts fired.
 * Orders and refunds are aggregated in SQL over their covering indexes, one range scan per bucket
 * (China-midnight aligned), as their status changes after the fact; the journal's closed hours come
 * from its hourly rollup and its 6-hour and daily periods (src/service/journal-rollup.ts), the rest
 * from the journal itself.
 */
import { type Kysely, type RawBuilder, sql } from 'kysely';
import { PayError } from '../core/errors.ts';
import {
  BUCKET_ORIGIN,
  type JournalCell,
  journalCells,
  PERIOD_SECONDS,
  periodStart,
  rolledUntil,
} from '../service/journal-rollup.ts';
import { HISTOGRAM_SLOTS, histogramSlot, slotValue } from '../service/latency-histogram.ts';
import { type AlertSettings, DEFAULT_ALERTS } from '../service/monitoring.ts';
import type { Database } from '../store/schema.ts';
import { checkScope, checkTime, type MerchantScope } from './scope.ts';

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
const HOUR_MS = 3600_000;
const MAX_BUCKETS = 2000;
/** The chosen width keeps a chart to at most this many points. */
const TARGET_BUCKETS = 200;

export interface OverviewRequest {
  merchantIds?: readonly string[] | undefined;
  from: Date | string;
  to: Date | string;
  /** Chosen from the range when absent: 1m for an hour, 1h for a week, 1d for 90 days. */
  bucket?: Bucket | undefined;
  /** Read closed hours from the hourly rollup (default true); false reads the journal alone. */
  rollups?: boolean | undefined;
  /** The monitor's alert rule drawn beside the error rate (default: DEFAULT_ALERTS). */
  alert?: Pick<AlertSettings, 'threshold' | 'windowMs' | 'minEvents'> | undefined;
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
  /** Error-rate alerts fired in the range (the service's, whatever the merchant), and whether one is open now. */
  alerts: { fired: number; firing: boolean };
  /** The monitor's alert rule, to draw beside the error rate. */
  alert: { threshold: number; windowMinutes: number; minEvents: number };
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
  const origin = BUCKET_ORIGIN;
  const alert = request.alert ?? DEFAULT_ALERTS;

  const [series, journal, reviews, alerts] = await Promise.all([
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
      )
      select b.at, o.created, o.paid, o.paid_fen, r.refunds, r.refund_fen
      from buckets b
        cross join lateral (
          select count(*)::int as created,
            (count(*) filter (where status in ('SUCCESS', 'PARTIAL_REFUNDED', 'REFUNDED')))::int as paid,
            coalesce(sum(total_fee) filter (where status in ('SUCCESS', 'PARTIAL_REFUNDED', 'REFUNDED')), 0)::int8 as paid_fen
          from payment_orders
          where create_date >= greatest(b.at, ${from}::timestamptz) and create_date < least(b.at + ${step}, ${to}::timestamptz)
            and ${merchantFilter(scope, 'merchant_id')}
        ) as o
        cross join lateral (
          select count(*)::int as refunds, coalesce(sum(refund_fee), 0)::int8 as refund_fen
          from payment_refunds
          where create_date >= greatest(b.at, ${from}::timestamptz) and create_date < least(b.at + ${step}, ${to}::timestamptz)
            and status = 'SUCCESS' and ${merchantFilter(scope, 'merchant_id')}
        ) as r
      order by b.at`.execute(db),
    journalQuery(db, scope, from, to, seconds, request.rollups !== false),
    sql<{ open: number; opened: number }>`
      select (count(*) filter (where status = 'OPEN'))::int as open,
        (count(*) filter (where create_date >= ${from} and create_date < ${to}))::int as opened
      from payment_reviews where ${merchantFilter(scope, 'merchant_id')}`.execute(db),
    sql<{ fired: number; last: string | null }>`
      select (select count(*)::int from monitoring_alerts
                where kind = 'firing' and at >= ${from} and at < ${to}) as fired,
        (select kind from monitoring_alerts where alert = 'vkpay_error_rate'
          order by at desc, id desc limit 1) as last`.execute(db),
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
    alerts: {
      fired: alerts.rows[0]?.fired ?? 0,
      firing: alerts.rows[0]?.last === 'firing' || alerts.rows[0]?.last === 'repeated',
    },
    alert: {
      threshold: alert.threshold,
      windowMinutes: alert.windowMs / 60_000,
      minEvents: alert.minEvents,
    },
  };
}

/** A series' response times: calls per slot of the fixed histogram (src/service/latency-histogram.ts). */
type Histogram = Float64Array;

interface LatencyCell {
  provider: string;
  operation: string;
  calls: number;
  errors: number;
  histogram: Histogram;
}

/**
 * percentile_cont over the values a histogram holds, computed as PostgreSQL does: the value at
 * fraction * (n - 1) of the sorted values, interpolated between its neighbours; a slot's calls all
 * take the value that stands for it.
 */
export function histogramPercentiles(
  histogram: Histogram,
  fractions: readonly number[],
): Array<number | null> {
  let total = 0;
  for (const count of histogram) total += count;
  if (total === 0) return fractions.map(() => null);
  const valueAt = (rank: number) => {
    let seen = 0;
    for (let slot = 0; slot < histogram.length; slot++) {
      seen += histogram[slot]!;
      if (seen > rank) return slotValue(slot);
    }
    return slotValue(histogram.length - 1);
  };
  return fractions.map((fraction) => {
    const position = fraction * (total - 1);
    const first = Math.floor(position);
    const low = valueAt(first);
    const high = valueAt(Math.ceil(position));
    return low + (position - first) * (high - low);
  });
}

/**
 * The journal of [from, to) in buckets of `seconds`: per bucket, events and system errors; per
 * bucket, provider and operation, and per provider and operation over the range, gateway calls and
 * their response-time percentiles. Whole closed hours come from the hourly rollup when the buckets
 * are whole hours and `rollups` allows it; the edges and the hours not rolled up yet come from the
 * journal itself, summed the same way.
 */
async function journalQuery(
  db: Kysely<Database>,
  scope: MerchantScope,
  from: Date,
  to: Date,
  seconds: number,
  rollups: boolean,
): Promise<{
  buckets: Map<string, { events: number; errors: number }>;
  latency: LatencyFigures[];
  latencySeries: Array<LatencyFigures & { at: string }>;
}> {
  const live = (start: Date, end: Date) =>
    journalCells(scope ?? 'all', start, end, seconds)
      .execute(db)
      .then((result) => result.rows);
  let reads: Array<Promise<JournalCell[]>> = [];
  const until = rollups && seconds % 3600 === 0 ? await rolledUntil(db) : null;
  const firstHour = Math.ceil(from.getTime() / HOUR_MS) * HOUR_MS;
  const lastHour = until ? Math.min(Math.floor(to.getTime() / HOUR_MS) * HOUR_MS, until.getTime()) : 0;
  if (until && lastHour > firstHour && (scope === undefined || scope.length > 0)) {
    const [start, end] = [new Date(firstHour), new Date(lastHour)];
    const merchants = scope === undefined ? [''] : [...scope];
    // The histograms travel as text: splitting it is several times faster than parsing arrays.
    const rolled = (table: 'journal_hourly' | 'journal_periods', first: number, last: number) =>
      first >= last
        ? Promise.resolve([])
        : sql<Omit<JournalCell, 'latency_ms' | 'latency_counts'> & { ms: string; counts: string }>`
        select date_bin(${seconds}::int * interval '1 second', ${sql.ref(table === 'journal_hourly' ? 'hour' : 'start')},
            ${BUCKET_ORIGIN}) as at,
          provider, operation, events, errors, calls, call_errors,
          array_to_string(latency_ms, ',') as ms, array_to_string(latency_counts, ',') as counts
        from ${sql.table(table)}
        where merchant_id in (${sql.join(merchants)})
          and ${sql.ref(table === 'journal_hourly' ? 'hour' : 'start')} >= ${new Date(first)}
          and ${sql.ref(table === 'journal_hourly' ? 'hour' : 'start')} < ${new Date(last)}
          ${table === 'journal_periods' ? sql`and seconds = ${period}` : sql``}`
            .execute(db)
            .then((result) =>
              result.rows.map(({ ms, counts, ...cell }) => ({
                ...cell,
                merchant_id: '',
                latency_ms: ms ? ms.split(',').map(Number) : [],
                latency_counts: counts ? counts.split(',').map(Number) : [],
              })),
            );
    // Whole 6-hour periods or days, for buckets as wide, from journal_periods; hours around them.
    const period = PERIOD_SECONDS.find((length) => seconds % length === 0);
    let [firstPeriod, lastPeriod] = [lastHour, lastHour];
    if (period) {
      const ms = period * 1000;
      firstPeriod = periodStart(firstHour + ms - 1, period);
      lastPeriod = periodStart(lastHour, period);
      if (lastPeriod <= firstPeriod) [firstPeriod, lastPeriod] = [lastHour, lastHour];
    }
    reads = [
      start > from ? live(from, start) : Promise.resolve([]),
      rolled('journal_hourly', firstHour, firstPeriod),
      rolled('journal_periods', firstPeriod, lastPeriod),
      rolled('journal_hourly', lastPeriod, lastHour),
      end < to ? live(end, to) : Promise.resolve([]),
    ];
  } else {
    reads = [live(from, to)];
  }
  const cells = (await Promise.all(reads)).flat();

  const buckets = new Map<string, { events: number; errors: number }>();
  const series = new Map<string, LatencyCell & { at: string }>();
  const overall = new Map<string, LatencyCell>();
  const add = (into: LatencyCell, cell: JournalCell) => {
    into.calls += cell.calls;
    into.errors += cell.call_errors;
    const { latency_ms: values, latency_counts: counts } = cell;
    for (let i = 0; i < values.length; i++) into.histogram[histogramSlot(values[i]!)]! += counts[i]!;
  };
  const blank = (cell: JournalCell): LatencyCell => ({
    provider: cell.provider,
    operation: cell.operation,
    calls: 0,
    errors: 0,
    histogram: new Float64Array(HISTOGRAM_SLOTS),
  });
  for (const cell of cells) {
    const at = new Date(cell.at).toISOString();
    const bucket = buckets.get(at) ?? { events: 0, errors: 0 };
    bucket.events += cell.events;
    bucket.errors += cell.errors;
    buckets.set(at, bucket);
    if (cell.calls === 0) continue;
    const key = `${cell.provider}\u0000${cell.operation}`;
    const inBucket = series.get(`${at}\u0000${key}`) ?? { at, ...blank(cell) };
    series.set(`${at}\u0000${key}`, inBucket);
    add(inBucket, cell);
    const inRange = overall.get(key) ?? blank(cell);
    overall.set(key, inRange);
    add(inRange, cell);
  }
  const figures = (cell: LatencyCell): LatencyFigures => {
    const [p50, p95, p99] = histogramPercentiles(cell.histogram, [0.5, 0.95, 0.99]);
    return {
      provider: cell.provider,
      operation: cell.operation,
      calls: cell.calls,
      errors: cell.errors,
      p50Ms: rounded(p50 ?? null),
      p95Ms: rounded(p95 ?? null),
      p99Ms: rounded(p99 ?? null),
    };
  };
  const byName = (a: LatencyCell, b: LatencyCell) =>
    a.provider.localeCompare(b.provider) || a.operation.localeCompare(b.operation);
  return {
    buckets,
    latency: [...overall.values()].sort(byName).map(figures),
    latencySeries: [...series.values()]
      .sort((a, b) => a.at.localeCompare(b.at) || byName(a, b))
      .map((cell) => ({ at: cell.at, ...figures(cell) })),
  };
}
