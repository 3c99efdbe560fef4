/**
 * The console's reads over a large store on PostgreSQL: N orders over a year for 20 merchants (one
 * of them half the volume), ~2.2 journal rows an order, refunds and reviews, bulk-loaded with
 * INSERT ... SELECT generate_series into a fresh schema with every migration's indexes, then the
 * journal rolled up per hour as the rollup job's first run does it. Printed: the p95 of a mix of
 * realistic order searches and of the 30-day overview, each beside a plain primary-key lookup
 * timed between its runs, the 90-day overview, and the 30-day one read from the journal alone. The
 * schema is dropped after.
 */
import { randomBytes } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { checkOrderSearch, orderPageQuery } from '../src/console/orders.ts';
import { type OrderSearch, overview, searchOrders } from '../src/console/queries.ts';
import { rollUpJournal } from '../src/service/journal-rollup.ts';
import { dropSchema, openStore } from '../src/store/db.ts';
import type { Database } from '../src/store/schema.ts';
import { percentile } from './support/load.ts';

export interface ConsoleBenchResult {
  orders: number;
  journalRows: number;
  loadSeconds: number;
  searches: number;
  searchP50Ms: number;
  searchP95Ms: number;
  /** Per kind of search: p95 in ms. */
  searchKinds: Array<{ kind: string; p95Ms: number }>;
  lookupP50Ms: number;
  lookupP95Ms: number;
  /** The hourly rollup of the whole journal, as the job's first run does it. */
  rollupSeconds: number;
  rolledHours: number;
  overviews: number;
  overviewP50Ms: number;
  overviewP95Ms: number;
  /** The primary-key lookup run after each overview: the overview's baseline of the same moment. */
  overviewLookupP95Ms: number;
  /** The 30-day overview read from the journal alone, without the rollup (a few runs). */
  unrolledOverviewP95Ms: number;
  /** The 30-day overview of the largest merchant alone. */
  merchantOverviewP95Ms: number;
  /** The 90-day overview of every merchant (daily buckets), as many runs as the 30-day one. */
  overview90P50Ms: number;
  overview90P95Ms: number;
  /** EXPLAIN of the searches, when asked for. */
  plans: string[];
}

const SPAN_DAYS = 365;
const MERCHANTS = 20;

export async function loadConsoleData(db: Kysely<Database>, orders: number): Promise<number> {
  // Status by a hash of the row number: 70 % paid, 5 % partly and 3 % fully refunded, 10 % closed,
  // 7 % unpaid, 5 % failed. Dates spread evenly over the span up to now, microseconds apart.
  await sql`
    insert into payment_orders (merchant_id, out_trade_no, provider, scene, type, subject, total_fee,
      refunded_fee, status, user_id, openid, transaction_id, paid_at, closed_at, create_date, update_date)
    select 'm' || case when g % 2 = 0 then 1 else 2 + (g / 2) % ${MERCHANTS - 1} end,
      'B' || lpad(g::text, 10, '0'),
      case when g % 3 = 0 then 'alipay' else 'wxpay' end,
      (array['native', 'jsapi', 'h5', 'app', 'mini_program'])[1 + g % 5],
      'goods', 'order ' || g, fee,
      case when s < 70 then 0 when s < 75 then fee / 2 when s < 78 then fee else 0 end,
      case when s < 70 then 'SUCCESS' when s < 75 then 'PARTIAL_REFUNDED' when s < 78 then 'REFUNDED'
           when s < 88 then 'CLOSED' when s < 95 then 'NOTPAY' else 'FAILED' end,
      'u' || (g * 31) % 200000, 'o' || (g * 31) % 200000,
      case when s < 78 then '4200' || lpad(g::text, 14, '0') end,
      case when s < 78 then created + interval '40 seconds' end,
      case when s >= 78 and s < 88 then created + interval '2 hours' end,
      created, created
    from (
      select g, 100 + (g * 7919) % 50000 as fee, (g * 2654435761) % 100 as s,
        now() - (${orders}::int8 - g) * (${SPAN_DAYS * 86_400_000_000}::int8 / ${orders}::int8) * interval '1 microsecond' as created
      from generate_series(1, ${orders}::int8) as g
    ) as generated`.execute(db);
  // The journal: a create call for every order (2 % failing at the gateway), the applied callback of
  // every paid one, a query for one in five; response times skewed with a slow tail.
  const journal = await sql`
    insert into payment_logs (type, status, out_trade_no, provider, amount, response_ms, error, create_date)
    select 'create', case when id % 50 = 0 then 'ERROR' else 'SUCCESS' end, out_trade_no, provider, total_fee,
      30 + (id * 7) % 170 + case when id % 100 = 1 then 900 else 0 end,
      case when id % 50 = 0 then '{"code": 40004}'::jsonb end, create_date + interval '80 milliseconds'
    from payment_orders
    union all
    select 'apply_notify', 'SUCCESS', out_trade_no, provider, total_fee, 2 + id % 9, null, paid_at
    from payment_orders where paid_at is not null
    union all
    select 'query', 'SUCCESS', out_trade_no, provider, total_fee, 20 + (id * 13) % 120, null,
      create_date + interval '61 seconds'
    from payment_orders where id % 5 = 0`.execute(db);
  await sql`
    insert into payment_refunds (order_id, merchant_id, out_trade_no, out_refund_no, refund_fee, total_fee,
      status, refund_id, success_time, create_date, update_date)
    select id, merchant_id, out_trade_no, out_trade_no || 'R1', refunded_fee, total_fee, 'SUCCESS',
      '5030' || id, create_date + interval '1 day', create_date + interval '20 hours', create_date + interval '1 day'
    from payment_orders where refunded_fee > 0`.execute(db);
  await sql`
    insert into payment_reviews (merchant_id, kind, reference, out_trade_no, provider, amount, status, create_date)
    select merchant_id, 'refund_stuck', out_trade_no || 'R1', out_trade_no, provider, refunded_fee,
      case when id % 3 = 0 then 'OPEN' else 'RESOLVED' end, create_date + interval '2 days'
    from payment_orders where refunded_fee > 0 and id % 97 = 0`.execute(db);
  // What autovacuum does for rows this old: statistics, and the visibility map index-only scans use.
  await sql`vacuum analyze payment_orders, payment_logs, payment_refunds, payment_reviews`.execute(db);
  return Number(journal.numAffectedRows ?? 0);
}

/** A realistic mix: what operators type into the order search. */
function searchMix(orders: number, now: number): Array<{ kind: string; make: (i: number) => OrderSearch }> {
  const g = (i: number) => 1 + ((i * 104_729) % orders);
  const merchantOf = (n: number) => `m${n % 2 === 0 ? 1 : 2 + (Math.floor(n / 2) % (MERCHANTS - 1))}`;
  const day = 86_400_000;
  return [
    {
      kind: 'out_trade_no, scoped',
      make: (i) => ({ merchantIds: [merchantOf(g(i))], outTradeNo: `B${String(g(i)).padStart(10, '0')}` }),
    },
    {
      kind: 'out_trade_no, all merchants',
      make: (i) => ({ outTradeNo: `B${String(g(i)).padStart(10, '0')}` }),
    },
    { kind: 'transaction id', make: (i) => ({ transactionId: `4200${String(g(i)).padStart(14, '0')}` }) },
    { kind: 'user id', make: (i) => ({ userId: `u${(i * 7) % 200_000}` }) },
    { kind: 'merchant, newest page', make: (i) => ({ merchantIds: [`m${1 + (i % MERCHANTS)}`] }) },
    {
      kind: 'merchant, closed, 7 days',
      make: (i) => ({
        merchantIds: [`m${1 + (i % MERCHANTS)}`],
        status: ['CLOSED'],
        from: new Date(now - 7 * day),
      }),
    },
    {
      kind: 'failed, 24 h, all',
      make: () => ({ status: ['FAILED'], from: new Date(now - day) }),
    },
    {
      kind: 'alipay 10-50 yuan, all',
      make: () => ({ provider: ['alipay'], minFen: 1000, maxFen: 5000 }),
    },
    {
      kind: 'two merchants, a day last month',
      make: (i) => ({
        merchantIds: ['m1', `m${2 + (i % (MERCHANTS - 1))}`],
        from: new Date(now - (30 + (i % 20)) * day),
        to: new Date(now - (29 + (i % 20)) * day),
      }),
    },
  ];
}

export async function benchConsoleQueries(
  databaseUrl: string,
  orders: number,
  options: { explain?: boolean; rounds?: number } = {},
): Promise<ConsoleBenchResult> {
  const schema = `bench_console_${randomBytes(4).toString('hex')}`;
  const store = await openStore({
    databaseUrl,
    schema,
    pool: { max: 4, acquireTimeoutMs: 60_000, idleTimeoutMs: 10_000 },
  });
  try {
    const { db } = store;
    const loadStarted = performance.now();
    const journalRows = await loadConsoleData(db, orders);
    const loadSeconds = (performance.now() - loadStarted) / 1000;
    const now = Date.now();
    const mix = searchMix(orders, now);
    const rounds = options.rounds ?? 40;

    // Warm the caches the same way for both sides: one pass of each first.
    const timed = async (work: () => Promise<unknown>) => {
      const started = performance.now();
      await work();
      return performance.now() - started;
    };
    const lookup = (i: number) =>
      db
        .selectFrom('payment_orders')
        .selectAll()
        .where('id', '=', 1 + ((i * 7_919) % orders))
        .executeTakeFirst();
    for (const entry of mix) await searchOrders(db, entry.make(0));
    for (let i = 0; i < 20; i++) await lookup(i);

    const searchTimes: number[] = [];
    const lookupTimes: number[] = [];
    const byKind = new Map<string, number[]>();
    for (let round = 1; round <= rounds; round++) {
      for (const entry of mix) {
        const search = entry.make(round);
        const ms = await timed(async () => {
          const first = await searchOrders(db, search);
          // Every third merchant listing is the next page: following the cursor costs the same.
          if (entry.kind === 'merchant, newest page' && round % 3 === 0 && first.next)
            await searchOrders(db, { ...search, after: first.next });
        });
        searchTimes.push(ms);
        byKind.set(entry.kind, [...(byKind.get(entry.kind) ?? []), ms]);
        lookupTimes.push(await timed(() => lookup(round * mix.length + searchTimes.length)));
      }
    }
    const sorted = (values: number[]) => Float64Array.from(values).sort();
    const p = (values: number[], fraction: number) => percentile(sorted(values), fraction);

    const overviewRounds = Math.max(5, Math.round(rounds / 4));
    const overviewTimes: number[] = [];
    const merchantOverviewTimes: number[] = [];
    const overviewLookupTimes: number[] = [];
    const unrolledTimes: number[] = [];
    const overview90Times: number[] = [];
    const to = new Date(now);
    const from = new Date(now - 30 * 86_400_000);
    const from90 = new Date(now - 90 * 86_400_000);
    // The job's first run over the year of history: every closed hour, in its batches.
    const rollupStarted = performance.now();
    let rolledHours = 0;
    for (;;) {
      const hours = await rollUpJournal(db, new Date(now));
      rolledHours += hours;
      if (hours === 0) break;
    }
    const rollupSeconds = (performance.now() - rollupStarted) / 1000;
    await overview(db, { from, to });
    for (let i = 0; i < overviewRounds; i++) {
      overviewTimes.push(await timed(() => overview(db, { from, to })));
      overviewLookupTimes.push(await timed(() => lookup(i)));
      merchantOverviewTimes.push(await timed(() => overview(db, { merchantIds: ['m1'], from, to })));
      overviewLookupTimes.push(await timed(() => lookup(i + overviewRounds)));
    }
    await overview(db, { from: from90, to });
    for (let i = 0; i < overviewRounds; i++)
      overview90Times.push(await timed(() => overview(db, { from: from90, to })));
    for (let i = 0; i < 3; i++)
      unrolledTimes.push(await timed(() => overview(db, { from, to, rollups: false })));

    const plans: string[] = [];
    if (options.explain) {
      for (const entry of mix) {
        const compiled = await explainSearch(db, entry.make(1));
        plans.push(`-- ${entry.kind}\n${compiled}`);
      }
    }
    return {
      orders,
      journalRows,
      loadSeconds,
      searches: searchTimes.length,
      searchP50Ms: p(searchTimes, 0.5),
      searchP95Ms: p(searchTimes, 0.95),
      searchKinds: [...byKind].map(([kind, times]) => ({ kind, p95Ms: p(times, 0.95) })),
      lookupP50Ms: p(lookupTimes, 0.5),
      lookupP95Ms: p(lookupTimes, 0.95),
      rollupSeconds,
      rolledHours,
      overviews: overviewTimes.length,
      overviewP50Ms: p(overviewTimes, 0.5),
      overviewP95Ms: p(overviewTimes, 0.95),
      overviewLookupP95Ms: p(overviewLookupTimes, 0.95),
      unrolledOverviewP95Ms: p(unrolledTimes, 0.95),
      merchantOverviewP95Ms: p(merchantOverviewTimes, 0.95),
      overview90P50Ms: p(overview90Times, 0.5),
      overview90P95Ms: p(overview90Times, 0.95),
      plans,
    };
  } finally {
    await store.close();
    await dropSchema(databaseUrl, schema);
  }
}

/** The plan PostgreSQL runs a search's first page with. */
async function explainSearch(db: Kysely<Database>, search: OrderSearch): Promise<string> {
  const rows = await orderPageQuery(db, checkOrderSearch(search), null, 50).explain(
    undefined,
    sql`analyze, costs off, buffers off`,
  );
  return rows.map((row) => String(row['QUERY PLAN'])).join('\n');
}
