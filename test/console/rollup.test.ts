/**
 * The journal's hourly rollup: the overview read through it equals the overview read from the
 * journal alone, on the bench's seeded year of orders (20 merchants, one with half the volume) and
 * rows the seed lacks (no provider, no order, the caller's errors, one number at two merchants);
 * rolled again it writes the same rows; stopped halfway it resumes; two at once agree.
 */
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConsoleData } from '../../bench/console-queries.ts';
import { overview } from '../../src/console/queries.ts';
import {
  DEFAULT_ROLLUP,
  GATEWAY_OPERATIONS,
  rolledUntil,
  rollUpJournal,
  rollUpJournalBatch,
} from '../../src/service/journal-rollup.ts';
import {
  EXACT_BELOW_MS,
  HISTOGRAM_SLOTS,
  histogramSlot,
  latencyBucketSql,
  slotValue,
} from '../../src/service/latency-histogram.ts';
import type { Database } from '../../src/store/schema.ts';
import type { VkPay } from '../../src/vk-pay.ts';
import { backends } from '../support/backends.ts';

const DAY = 86_400_000;
const HOUR = 3_600_000;

describe.each(backends)('journal rollups on $name', (backend) => {
  let vkPay: VkPay;
  let db: Kysely<Database>;
  const now = new Date();

  beforeAll(async () => {
    vkPay = await backend.open();
    db = vkPay.store.db;
    await loadConsoleData(db, 20_000);
    // What the bench's seed lacks: the same number at two merchants, a row without provider, a row
    // naming no order, the caller's errors, and rows just before and after hours start.
    const shared = (merchant: string) => ({
      merchant_id: merchant,
      out_trade_no: 'SHARED-1',
      provider: 'wxpay',
      scene: 'native',
      type: 'goods',
      subject: 'shared',
      total_fee: 500,
      status: 'SUCCESS' as const,
      create_date: new Date(now.getTime() - 3 * DAY),
    });
    await db
      .insertInto('payment_orders')
      .values([shared('m1'), shared('m2')])
      .execute();
    const at = (ms: number) => new Date(Math.floor((now.getTime() - ms) / HOUR) * HOUR);
    await db
      .insertInto('payment_logs')
      .values([
        {
          type: 'create',
          status: 'SUCCESS',
          out_trade_no: 'SHARED-1',
          provider: 'wxpay',
          response_ms: 77,
          create_date: at(3 * DAY),
        },
        {
          type: 'apply_notify',
          status: 'SUCCESS',
          out_trade_no: 'SHARED-1',
          provider: null,
          response_ms: null,
          create_date: at(3 * DAY),
        },
        {
          type: 'create',
          status: 'ERROR',
          out_trade_no: 'NO-SUCH-ORDER',
          provider: 'alipay',
          response_ms: 5000,
          error: JSON.stringify({ code: 50000 }),
          create_date: at(5 * DAY),
        },
        {
          type: 'query',
          status: 'ERROR',
          out_trade_no: 'SHARED-1',
          provider: 'wxpay',
          response_ms: 12,
          error: JSON.stringify({ code: 40005 }),
          create_date: new Date(at(2 * DAY).getTime() - 1),
        },
        {
          type: 'refund',
          status: 'ERROR',
          out_trade_no: null,
          provider: 'wxpay',
          response_ms: 1500,
          error: JSON.stringify({ code: 'SYSTEMERROR' }),
          create_date: new Date(at(2 * DAY).getTime()),
        },
      ])
      .execute();
  }, 600_000);
  afterAll(async () => {
    await vkPay.close();
  });

  const read = (request: Parameters<typeof overview>[1]) =>
    Promise.all([overview(db, request), overview(db, { ...request, rollups: false })]);

  it('reads every range and scope through the rollup exactly as from the journal alone', {
    timeout: 600_000,
  }, async () => {
    expect(await rolledUntil(db)).toBeNull();
    const hours = await rollUpJournal(db, now, { ...DEFAULT_ROLLUP, maxBatches: 10_000 });
    expect(hours).toBeGreaterThan(364 * 24);
    const until = (await rolledUntil(db))!;
    // Rolled up to the last hour that ended at least the grace period ago.
    expect(until.getTime()).toBe(Math.floor((now.getTime() - DEFAULT_ROLLUP.graceMs) / HOUR) * HOUR);
    // Rows of the current hour, after the roll-up, count at once.
    await db
      .insertInto('payment_logs')
      .values({
        type: 'create',
        status: 'SUCCESS',
        out_trade_no: 'B0000019999',
        provider: 'alipay',
        response_ms: 64,
      })
      .execute();

    const to = new Date();
    const ranges: Array<{ from: Date; to: Date; bucket?: '1h' | '6h' | '1d' }> = [
      { from: new Date(to.getTime() - 7 * DAY), to },
      { from: new Date(to.getTime() - 30 * DAY), to },
      { from: new Date(to.getTime() - 90 * DAY), to },
      { from: new Date(to.getTime() - 30 * DAY), to, bucket: '1d' },
      { from: new Date(to.getTime() - 3 * DAY), to, bucket: '1h' },
      // Neither end on an hour, both in the past.
      {
        from: new Date(to.getTime() - 40 * DAY + 17 * 60_000 + 123),
        to: new Date(to.getTime() - 10 * DAY - 7 * 60_000),
        bucket: '6h',
      },
    ];
    const scopes = [undefined, ['m1'], ['m3', 'm7'], ['m1', 'm2'], []];
    let compared = 0;
    for (const range of ranges)
      for (const merchantIds of scopes) {
        const [rolled, plain] = await read({ ...range, merchantIds });
        expect(rolled, JSON.stringify({ range, merchantIds })).toEqual(plain);
        compared += rolled.totals.events;
      }
    expect(compared).toBeGreaterThan(10_000);

    // The percentiles are PostgreSQL's percentile_cont over the same calls' histogram values, and
    // within 1 % (and a millisecond of rounding) of percentile_cont over their times.
    const from = new Date(to.getTime() - 30 * DAY);
    const [rolled] = await read({ from, to });
    const direct = await sql<{
      provider: string;
      operation: string;
      calls: number;
      p: number[];
      raw: number[];
    }>`
      select provider, type as operation, count(*)::int as calls,
        percentile_cont(array[0.5, 0.95, 0.99]::float8[])
          within group (order by ${sql.raw(latencyBucketSql('response_ms'))}) as p,
        percentile_cont(array[0.5, 0.95, 0.99]::float8[]) within group (order by response_ms) as raw
      from payment_logs
      where create_date >= ${from} and create_date < ${to} and type in (${sql.join([...GATEWAY_OPERATIONS])})
        and provider is not null and response_ms is not null
      group by 1, 2 order by 1, 2`.execute(db);
    expect(
      rolled.latency.map((row) => [row.provider, row.operation, row.calls, row.p50Ms, row.p95Ms, row.p99Ms]),
    ).toEqual(
      direct.rows.map((row) => [
        row.provider,
        row.operation,
        row.calls,
        ...row.p.map((value) => Math.round(value)),
      ]),
    );
    expect(rolled.latency.length).toBeGreaterThan(2);
    for (const [i, row] of direct.rows.entries()) {
      const figures = rolled.latency[i]!;
      [figures.p50Ms, figures.p95Ms, figures.p99Ms].forEach((value, j) => {
        expect(Math.abs(value! - row.raw[j]!)).toBeLessThanOrEqual(row.raw[j]! * 0.01 + 1);
      });
    }
    // The number at two merchants counts for each of them, and once for both together.
    const threeDays = { from: new Date(to.getTime() - 4 * DAY), to: new Date(to.getTime() - 2 * DAY) };
    const [m1] = await read({ ...threeDays, merchantIds: ['m1'] });
    const [m2] = await read({ ...threeDays, merchantIds: ['m2'] });
    const [both] = await read({ ...threeDays, merchantIds: ['m1', 'm2'] });
    expect(both.totals.events).toBe(m1.totals.events + m2.totals.events);

    // A row that names its merchant and kind counts for that merchant's order alone: a transfer's of
    // the same number counts for no merchant's orders, a payment's of m2 not for m1's.
    const lastHour = { from: new Date(Date.now() - HOUR), to: new Date(Date.now() + HOUR) };
    const counts = async () =>
      Promise.all(
        [['m1'], ['m2'], undefined].map(
          async (merchantIds) => (await overview(db, { ...lastHour, merchantIds })).totals.events,
        ),
      );
    const before = await counts();
    await db
      .insertInto('payment_logs')
      .values([
        {
          type: 'transfer',
          status: 'SUCCESS',
          out_trade_no: 'SHARED-1',
          subject_kind: 'transfer',
          merchant_id: 'm1',
          provider: 'wxpay',
          response_ms: 40,
        },
        {
          type: 'query',
          status: 'SUCCESS',
          out_trade_no: 'SHARED-1',
          subject_kind: 'payment',
          merchant_id: 'm2',
          provider: 'wxpay',
          response_ms: 41,
        },
      ])
      .execute();
    const [m1After, m2After, allAfter] = await counts();
    expect([m1After, m2After, allAfter]).toEqual([before[0], before[1]! + 1, before[2]! + 2]);
  });

  const snapshot = async () => [
    ...(
      await sql<Record<string, unknown>>`select merchant_id, hour, provider, operation, events, errors, calls,
        call_errors, latency_ms, latency_counts from journal_hourly
        order by merchant_id, hour, provider, operation`.execute(db)
    ).rows,
    ...(
      await sql<
        Record<string, unknown>
      >`select seconds, merchant_id, start, provider, operation, events, errors,
        calls, call_errors, latency_ms, latency_counts from journal_periods
        order by seconds, merchant_id, start, provider, operation`.execute(db)
    ).rows,
  ];

  it('writes the same rows when rolled again, resumes after a stop, and two at once agree', {
    timeout: 600_000,
  }, async () => {
    if ((await rolledUntil(db)) === null)
      await rollUpJournal(db, now, { ...DEFAULT_ROLLUP, maxBatches: 10_000 });
    const before = await snapshot();
    expect(before.length).toBeGreaterThan(1000);
    expect(before.filter((row) => row.seconds === 86_400).length).toBeGreaterThan(300);
    const until = (await rolledUntil(db))!;
    const back = (hours: number) =>
      db
        .updateTable('journal_rollup_progress')
        .set({ rolled_until: new Date(until.getTime() - hours * HOUR) })
        .execute();

    // Rolled again from 100 hours back, in one go: the same rows.
    await back(100);
    expect(await rollUpJournal(db, now)).toBe(100);
    expect(await snapshot()).toEqual(before);

    // Stopped after one batch of 24: the overview still reads the rest from the journal.
    await back(100);
    expect((await rollUpJournalBatch(db, now)).hours).toBe(24);
    expect((await rolledUntil(db))!.getTime()).toBe(until.getTime() - 76 * HOUR);
    const to = new Date();
    const [rolled, plain] = await read({ from: new Date(to.getTime() - 7 * DAY), to });
    expect(rolled).toEqual(plain);
    // Resumed: the rest, and nothing more to do.
    expect(await rollUpJournal(db, now)).toBe(76);
    expect(await rollUpJournal(db, now)).toBe(0);
    expect(await snapshot()).toEqual(before);

    // Two instances at once: one waits on the progress row, then finds the hours done.
    await back(48);
    const both = await Promise.all([rollUpJournal(db, now), rollUpJournal(db, now)]);
    expect(both[0] + both[1]).toBe(48);
    expect(await snapshot()).toEqual(before);
  });

  it('keeps every response time within 1 % and half a millisecond in the histogram', async () => {
    const rows = await sql<{ ms: number; value: number }>`
      select ms, ${sql.raw(latencyBucketSql('ms'))} as value
      from generate_series(0, 200000) as ms`.execute(db);
    let previous = -1;
    for (const { ms, value } of rows.rows) {
      if (ms < EXACT_BELOW_MS) expect(value).toBe(ms);
      expect(Math.abs(value - ms)).toBeLessThanOrEqual(ms * 0.01 + 0.5);
      const slot = histogramSlot(value);
      expect(slot).toBeGreaterThanOrEqual(previous);
      expect(slot).toBeLessThan(HISTOGRAM_SLOTS);
      expect(slotValue(slot)).toBe(value);
      previous = slot;
    }
    expect(previous).toBeGreaterThan(EXACT_BELOW_MS + 200);
  });
});
