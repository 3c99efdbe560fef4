import fc from 'fast-check';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  csvCell,
  encodeCursor,
  exportOrdersCsv,
  type OrderSearch,
  orderTimeline,
  overview,
  reconciliationDays,
  searchOrders,
  searchReviews,
} from '../../src/console/queries.ts';
import { PayError } from '../../src/core/errors.ts';
import type { OrderStatus } from '../../src/core/states.ts';
import type { Database } from '../../src/store/schema.ts';
import type { VkPay } from '../../src/vk-pay.ts';
import { backends } from '../support/backends.ts';

const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 0,
    (e: unknown) => (e instanceof PayError ? e.code : -1),
  );

/** The known set: 240 orders of three merchants over 10 days from BASE, some sharing an instant. */
const BASE = Date.parse('2026-03-01T00:00:00Z');
const STATUSES: OrderStatus[] = ['NOTPAY', 'SUCCESS', 'CLOSED', 'PARTIAL_REFUNDED', 'REFUNDED', 'FAILED'];
const MERCHANTS = ['m1', 'm2', 'm3'];

interface Known {
  merchantId: string;
  outTradeNo: string;
  provider: string;
  status: OrderStatus;
  totalFen: number;
  userId: string;
  transactionId: string | null;
  /** Microseconds since the epoch. */
  createdUs: number;
  id?: number;
}

function knownOrders(): Known[] {
  const orders: Known[] = [];
  for (let i = 0; i < 240; i++) {
    const status = STATUSES[i % STATUSES.length]!;
    const paid = ['SUCCESS', 'PARTIAL_REFUNDED', 'REFUNDED'].includes(status);
    // Every fifth order shares its instant with the one before; the rest are microseconds apart.
    const slot = i - (i % 5 === 4 ? 1 : 0);
    orders.push({
      merchantId: MERCHANTS[i % 3]!,
      outTradeNo: `K${String(i).padStart(4, '0')}`,
      provider: i % 4 === 0 ? 'alipay' : 'wxpay',
      status,
      totalFen: 100 + ((i * 37) % 900),
      userId: `u${i % 7}`,
      transactionId: paid ? `T${i}` : null,
      createdUs: (BASE + slot * 3_600_000) * 1000 + (slot % 3),
    });
  }
  return orders;
}

const usText = (us: number) => {
  const ms = Math.floor(us / 1000);
  return `${new Date(ms).toISOString().slice(0, 19)}.${String(ms % 1000).padStart(3, '0')}${String(us % 1000).padStart(3, '0')}Z`;
};

async function insertKnown(db: Kysely<Database>, orders: Known[]): Promise<void> {
  for (const order of orders) {
    const paid = order.transactionId !== null;
    const row = await db
      .insertInto('payment_orders')
      .values({
        merchant_id: order.merchantId,
        out_trade_no: order.outTradeNo,
        provider: order.provider,
        scene: 'native',
        type: 'goods',
        subject: `subject ${order.outTradeNo}`,
        total_fee: order.totalFen,
        refunded_fee:
          order.status === 'REFUNDED' ? order.totalFen : order.status === 'PARTIAL_REFUNDED' ? 50 : 0,
        status: order.status,
        user_id: order.userId,
        transaction_id: order.transactionId,
        paid_at: paid ? usText(order.createdUs + 5_000_000) : null,
        create_date: usText(order.createdUs),
        update_date: usText(order.createdUs),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    order.id = Number(row.id);
  }
}

/** The orders a search must find, newest first, computed here from the known set. */
function expected(orders: Known[], search: OrderSearch): string[] {
  return orders
    .filter(
      (o) =>
        (search.merchantIds === undefined || search.merchantIds.includes(o.merchantId)) &&
        (search.outTradeNo === undefined || o.outTradeNo === search.outTradeNo) &&
        (search.transactionId === undefined || o.transactionId === search.transactionId) &&
        (search.userId === undefined || o.userId === search.userId) &&
        (!search.status?.length || search.status.includes(o.status)) &&
        (!search.provider?.length || search.provider.includes(o.provider)) &&
        (search.minFen === undefined || o.totalFen >= search.minFen) &&
        (search.maxFen === undefined || o.totalFen <= search.maxFen) &&
        (search.from === undefined || o.createdUs >= new Date(search.from).getTime() * 1000) &&
        (search.to === undefined || o.createdUs < new Date(search.to).getTime() * 1000),
    )
    .sort((a, b) => b.createdUs - a.createdUs || b.id! - a.id!)
    .map((o) => o.outTradeNo);
}

async function pageThrough(db: Kysely<Database>, search: OrderSearch, limit: number): Promise<string[]> {
  const seen: string[] = [];
  let after: string | undefined;
  for (let pages = 0; pages < 1000; pages++) {
    const page = await searchOrders(db, { ...search, limit, after });
    seen.push(...page.rows.map((row) => row.outTradeNo));
    if (!page.next) return seen;
    after = page.next;
  }
  throw new Error('paging did not end');
}

describe.each(backends)('console queries on $name', (backend) => {
  let vkPay: VkPay;
  let db: Kysely<Database>;
  const orders = knownOrders();

  beforeAll(async () => {
    vkPay = await backend.open();
    db = vkPay.context.store.db;
    await insertKnown(db, orders);
  });
  afterAll(async () => {
    await vkPay.close();
  });

  it('each filter finds exactly the matching orders, newest first', async () => {
    const searches: OrderSearch[] = [
      {},
      { outTradeNo: 'K0042' },
      { transactionId: 'T43' },
      { userId: 'u3' },
      { status: ['CLOSED', 'REFUNDED'] },
      { provider: ['alipay'] },
      { minFen: 300, maxFen: 500 },
      { from: new Date(BASE + 24 * 3_600_000), to: new Date(BASE + 48 * 3_600_000).toISOString() },
      { userId: 'u1', status: ['SUCCESS'], provider: ['wxpay'] },
    ];
    for (const search of searches) {
      const page = await searchOrders(db, { ...search, limit: 200 });
      expect(
        page.rows.map((row) => row.outTradeNo),
        JSON.stringify(search),
      ).toEqual(expected(orders, search).slice(0, 200));
    }
  });

  it('a merchant-scoped search never returns another merchant’s order, and an empty scope none', async () => {
    for (const merchantIds of [['m1'], ['m2', 'm3']]) {
      const seen = await pageThrough(db, { merchantIds }, 37);
      expect(seen).toEqual(expected(orders, { merchantIds }));
      const page = await searchOrders(db, { merchantIds, limit: 200 });
      expect(page.rows.every((row) => merchantIds.includes(row.merchantId))).toBe(true);
    }
    // Another merchant's order, even looked up exactly, is not found.
    const m2Order = orders.find((o) => o.merchantId === 'm2')!;
    expect((await searchOrders(db, { merchantIds: ['m1'], outTradeNo: m2Order.outTradeNo })).rows).toEqual(
      [],
    );
    expect((await searchOrders(db, { merchantIds: [] })).rows).toEqual([]);
    expect(await codeOf(orderTimeline(db, 'm2', m2Order.outTradeNo, ['m1']))).toBe(40005);
  });

  it('rows are safe to show: no custom data, no gateway payload', async () => {
    const page = await searchOrders(db, { limit: 1 });
    expect(Object.keys(page.rows[0]!).sort()).toEqual(
      [
        'closedAt',
        'createdAt',
        'merchantId',
        'outTradeNo',
        'paidAt',
        'provider',
        'refundedFen',
        'scene',
        'status',
        'subject',
        'totalFen',
        'transactionId',
        'type',
        'updatedAt',
        'userId',
      ].sort(),
    );
  });

  it('keyset pages have no duplicates or gaps when orders are inserted between pages', async () => {
    const search = { merchantIds: ['m1', 'm2', 'm3'] };
    const first = await searchOrders(db, { ...search, limit: 25 });
    // Newer orders arrive, one at the very instant of the last row shown, with a higher id.
    const lastShown = orders.find((o) => o.outTradeNo === first.rows.at(-1)!.outTradeNo)!;
    const arrivals: Known[] = [
      { ...lastShown, outTradeNo: 'NEW1', createdUs: Date.now() * 1000, transactionId: null },
      { ...lastShown, outTradeNo: 'NEW2', transactionId: null },
    ];
    await insertKnown(db, arrivals);
    try {
      const rest: string[] = [];
      let after = first.next!;
      while (after) {
        const page = await searchOrders(db, { ...search, limit: 25, after });
        rest.push(...page.rows.map((row) => row.outTradeNo));
        after = page.next!;
      }
      const all = [...first.rows.map((row) => row.outTradeNo), ...rest];
      expect(new Set(all).size).toBe(all.length);
      expect(all).toEqual(expected(orders, search));
    } finally {
      await db.deleteFrom('payment_orders').where('out_trade_no', 'in', ['NEW1', 'NEW2']).execute();
    }
  });

  it('a forged or malformed cursor is a 40001, never a server error', async () => {
    const forged = [
      'not a cursor!',
      Buffer.from('{"a":1}').toString('base64url'),
      Buffer.from('["2026-02-31T00:00:00.000000Z",5]').toString('base64url'),
      Buffer.from('["2026-01-01T00:00:00.000000Z",-1]').toString('base64url'),
      Buffer.from('["2026-01-01T00:00:00.000000Z",1.5]').toString('base64url'),
      Buffer.from("['); drop table payment_orders; --',1]").toString('base64url'),
      Buffer.from('["2026-01-01 00:00:00",1]').toString('base64url'),
      'A'.repeat(500),
    ];
    for (const after of forged) expect(await codeOf(searchOrders(db, { after })), after).toBe(40001);
    // A well-formed cursor of an order that does not exist just continues from that key.
    const made = encodeCursor({ createdAt: '2026-03-02T00:00:00.000000Z', id: 999_999 });
    const page = await searchOrders(db, { after: made, limit: 200 });
    // Rows at the key's very instant come first (their ids are lower than the key's), then older ones.
    expect(page.rows.map((row) => row.outTradeNo)).toEqual(
      expected(orders, { to: new Date(Date.parse('2026-03-02T00:00:00Z') + 1) }),
    );
  });

  it('bad filters are 40001', async () => {
    const bad: unknown[] = [
      { limit: 0 },
      { limit: 201 },
      { status: ['PAID'] },
      { minFen: -1 },
      { minFen: 5, maxFen: 4 },
      { from: 'yesterday' },
      { merchantIds: 'm1' },
      { outTradeNo: 'x'.repeat(200) },
    ];
    for (const search of bad)
      expect(await codeOf(searchOrders(db, search as OrderSearch)), JSON.stringify(search)).toBe(40001);
  });

  it('paging through any filter returns exactly the rows of one unpaginated query', async () => {
    const search = fc.record(
      {
        merchantIds: fc.subarray(MERCHANTS),
        userId: fc.constantFrom('u0', 'u1', 'u5'),
        status: fc.subarray(STATUSES),
        provider: fc.subarray(['wxpay', 'alipay']),
        minFen: fc.integer({ min: 100, max: 1000 }),
        maxFen: fc.integer({ min: 500, max: 1100 }),
        from: fc.integer({ min: 0, max: 240 }).map((h) => new Date(BASE + h * 3_600_000)),
        to: fc.integer({ min: 0, max: 260 }).map((h) => new Date(BASE + h * 3_600_000)),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(search, fc.integer({ min: 1, max: 40 }), async (filter, limit) => {
        const valid = { ...filter };
        if (valid.minFen !== undefined && valid.maxFen !== undefined && valid.minFen > valid.maxFen)
          delete valid.maxFen;
        const paged = await pageThrough(db, valid, limit);
        const whole = await pageThrough(db, valid, 200);
        expect(paged).toEqual(whole);
        expect(paged).toEqual(expected(orders, valid));
      }),
      { numRuns: 40 },
    );
  });

  it('the CSV export quotes per RFC 4180 and defuses formulas', async () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    expect(csvCell('=HYPERLINK("http://x")')).toBe(`"'=HYPERLINK(""http://x"")"`);
    for (const start of ['+', '-', '@', '\t', '\r'])
      expect(csvCell(`${start}1`).includes(`'${start}1`)).toBe(true);
    expect(csvCell(1200)).toBe('1200');
    expect(csvCell(null)).toBe('');

    await db
      .insertInto('payment_orders')
      .values({
        merchant_id: 'csv',
        out_trade_no: 'CSV1',
        provider: 'wxpay',
        scene: 'native',
        type: 'goods',
        subject: '=cmd|"/c calc"!A1, and more',
        total_fee: 100,
        status: 'NOTPAY',
        create_date: '2026-04-01T00:00:00Z',
        update_date: '2026-04-01T00:00:00Z',
      })
      .execute();
    const lines: string[] = [];
    for await (const line of exportOrdersCsv(db, { merchantIds: ['csv'] })) lines.push(line);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^merchant_id,out_trade_no,transaction_id,provider,.*\r\n$/);
    expect(lines[1]).toContain(`"'=cmd|""/c calc""!A1, and more"`);
    expect(lines[1]!.endsWith('\r\n')).toBe(true);

    // Every order of a large search, across the export's pages, once.
    const all: string[] = [];
    for await (const line of exportOrdersCsv(db, { merchantIds: MERCHANTS, limit: 3 })) all.push(line);
    expect(all.slice(1).map((line) => line.split(',')[1])).toEqual(
      expected(orders, { merchantIds: MERCHANTS }),
    );
  });

  it('the overview counts a known set of orders, refunds and journal rows in date_bin buckets', async () => {
    const day = (n: number) => new Date(BASE + n * 86_400_000);
    const from = day(0);
    const to = day(10);
    const known = orders.filter((o) => o.createdUs < to.getTime() * 1000);
    const paid = known.filter((o) => ['SUCCESS', 'PARTIAL_REFUNDED', 'REFUNDED'].includes(o.status));
    // A refund and a journal row on day 2 (noon UTC, China evening).
    const refunded = paid.find((o) => o.merchantId === 'm1')!;
    await db
      .insertInto('payment_refunds')
      .values({
        order_id: refunded.id!,
        merchant_id: 'm1',
        out_trade_no: refunded.outTradeNo,
        out_refund_no: 'OV-R1',
        refund_fee: 50,
        total_fee: refunded.totalFen,
        status: 'SUCCESS',
        create_date: new Date(day(2).getTime() + 12 * 3_600_000),
      })
      .execute();
    await db
      .insertInto('payment_logs')
      .values([
        {
          type: 'create',
          status: 'SUCCESS',
          out_trade_no: 'K0003',
          provider: 'wxpay',
          response_ms: 10,
          create_date: day(1),
        },
        {
          type: 'create',
          status: 'SUCCESS',
          out_trade_no: 'K0006',
          provider: 'wxpay',
          response_ms: 20,
          create_date: day(1),
        },
        {
          type: 'query',
          status: 'ERROR',
          out_trade_no: 'K0003',
          provider: 'wxpay',
          response_ms: 300,
          error: JSON.stringify({ code: 40004 }),
          create_date: day(1),
        },
        {
          type: 'create',
          status: 'ERROR',
          out_trade_no: 'K0002',
          provider: 'wxpay',
          response_ms: 5,
          error: JSON.stringify({ code: 40001 }),
          create_date: day(1),
        },
      ])
      .execute();
    try {
      const all = await overview(db, { from, to });
      expect(all.bucket).toBe('6h');
      // Six-hour buckets start at China midnight (16:00 UTC): the range starts inside one, so 41.
      expect(all.buckets).toHaveLength(41);
      expect(all.buckets[0]!.at).toBe('2026-02-28T22:00:00.000Z');
      expect((await overview(db, { from, to: day(7) })).bucket).toBe('1h');
      expect(all.totals.created).toBe(known.length);
      expect(all.totals.paid).toBe(paid.length);
      expect(all.totals.paidFen).toBe(paid.reduce((sum, o) => sum + o.totalFen, 0));
      expect(all.totals.successRate).toBeCloseTo(paid.length / known.length);
      expect(all.totals.refunds).toBe(1);
      expect(all.totals.refundFen).toBe(50);
      // Two errors, one of them the caller's (40001): one system error in four events.
      expect(all.totals.events).toBe(4);
      expect(all.totals.errors).toBe(1);
      expect(all.alert).toEqual({ threshold: 0.1, windowMinutes: 5, minEvents: 20 });
      const create = all.latency.find((row) => row.provider === 'wxpay' && row.operation === 'create')!;
      expect(create).toMatchObject({ calls: 3, errors: 1, p50Ms: 10 });
      // Daily buckets start at China midnight: 16:00 UTC.
      const daily = await overview(db, { from, to, bucket: '1d' });
      expect(daily.buckets[0]!.at).toBe('2026-02-28T16:00:00.000Z');
      expect(daily.buckets.reduce((sum, b) => sum + b.created, 0)).toBe(known.length);
      const firstChinaDay = known.filter((o) => o.createdUs < Date.parse('2026-03-01T16:00:00Z') * 1000);
      expect(daily.buckets[0]!.created).toBe(firstChinaDay.length);

      // Merchant m1 only: its orders, its refund, the journal rows of its orders (K0003, K0006).
      const m1 = await overview(db, { merchantIds: ['m1'], from, to });
      expect(m1.totals.created).toBe(known.filter((o) => o.merchantId === 'm1').length);
      expect(m1.totals.refunds).toBe(1);
      expect(m1.totals.events).toBe(3);
      expect(m1.totals.errors).toBe(1);
      const none = await overview(db, { merchantIds: [], from, to });
      expect(none.totals.created).toBe(0);
      expect(none.latency).toEqual([]);

      const hour = await overview(db, { from, to: new Date(from.getTime() + 3_600_000) });
      expect(hour.bucket).toBe('1m');
      expect(hour.buckets).toHaveLength(60);
      const ninety = await overview(db, { from, to: day(90) });
      expect(ninety.bucket).toBe('1d');
      for (const bad of [
        { from, to: day(91) },
        { from: to, to: from },
        { from, to, bucket: '2h' },
        { from, to: day(90), bucket: '1m' },
        { from: 'soon', to },
      ])
        expect(await codeOf(overview(db, bad as never)), JSON.stringify(bad)).toBe(40001);
    } finally {
      await db.deleteFrom('payment_refunds').where('out_refund_no', '=', 'OV-R1').execute();
      await db.deleteFrom('payment_logs').where('create_date', '=', day(1)).execute();
    }
  });

  it('the timeline shows an order’s whole story in time order, with sealed and secret values hidden', async () => {
    const at = (second: number) => new Date(Date.parse('2026-05-01T00:00:00Z') + second * 1000);
    const order = await db
      .insertInto('payment_orders')
      .values({
        merchant_id: 'tl',
        out_trade_no: 'TL1',
        provider: 'wxpay',
        scene: 'native',
        type: 'goods',
        subject: 'timeline',
        total_fee: 1000,
        refunded_fee: 300,
        status: 'PARTIAL_REFUNDED',
        transaction_id: '4200TL1',
        custom: JSON.stringify({
          note: 'gift',
          user_info: { $sealed: 'aes-256-gcm', kid: 'k1', iv: 'aa', tag: 'bb', data: 'SECRETDATA' },
          api_token: 'tok_live',
        }),
        paid_at: at(20),
        create_date: at(0),
        update_date: at(60),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await db
      .insertInto('payment_logs')
      .values([
        {
          type: 'create',
          status: 'SUCCESS',
          out_trade_no: 'TL1',
          provider: 'wxpay',
          response_ms: 42,
          create_date: at(1),
        },
        {
          type: 'query',
          status: 'ERROR',
          out_trade_no: 'TL1',
          provider: 'wxpay',
          response_ms: 2000,
          error: JSON.stringify({ code: 40004, message: 'timeout', signature: 'abc' }),
          create_date: at(10),
        },
        {
          type: 'apply_notify',
          status: 'SUCCESS',
          out_trade_no: 'TL1',
          provider: 'wxpay',
          response_ms: 3,
          create_date: at(20),
        },
        // Another gateway's order of the same number is not this one's.
        {
          type: 'create',
          status: 'SUCCESS',
          out_trade_no: 'TL1',
          provider: 'alipay',
          response_ms: 9,
          create_date: at(2),
        },
      ])
      .execute();
    await db
      .insertInto('payment_errors')
      .values({
        code: 40004,
        message: 'gateway timed out',
        action: 'retry',
        out_trade_no: 'TL1',
        provider: 'wxpay',
        payload: JSON.stringify({ details: { password: 'hunter2' } }),
        stack: 'Error at /srv/app.js',
        create_date: at(10),
      })
      .execute();
    await db
      .insertInto('payment_notify_events')
      .values({
        provider: 'wxpay',
        event_id: 'EV-TL1',
        out_trade_no: 'TL1',
        payload: JSON.stringify({ trade_state: 'SUCCESS', ciphertext: 'zzz' }),
        result: 'applied',
        create_date: at(19),
      })
      .execute();
    await db
      .insertInto('payment_refunds')
      .values({
        order_id: Number(order.id),
        merchant_id: 'tl',
        out_trade_no: 'TL1',
        out_refund_no: 'TL1-R1',
        refund_fee: 300,
        total_fee: 1000,
        reason: 'broken',
        status: 'SUCCESS',
        success_time: at(50),
        create_date: at(40),
        update_date: at(50),
      })
      .execute();
    await db
      .insertInto('webhook_endpoints')
      .values({
        id: 'we_tl',
        merchant_id: 'tl',
        url: 'https://example.test/hook',
        source: 'api',
        timeout_ms: 5000,
      })
      .execute();
    await db
      .insertInto('webhook_events')
      .values({
        id: 'evt_tl1',
        merchant_id: 'tl',
        type: 'payment.succeeded',
        out_trade_no: 'TL1',
        payload: '{}',
        create_date: at(21),
      })
      .execute();
    const delivery = await db
      .insertInto('webhook_deliveries')
      .values({
        event_id: 'evt_tl1',
        endpoint_id: 'we_tl',
        merchant_id: 'tl',
        status: 'DELIVERED',
        attempts: 2,
        create_date: at(21),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await db
      .insertInto('webhook_attempts')
      .values(
        [1, 2].map((attempt) => ({
          delivery_id: Number(delivery.id),
          event_id: 'evt_tl1',
          endpoint_id: 'we_tl',
          attempt,
          instance: 'i1',
          started_at: at(21 + attempt * 5),
          latency_ms: 30,
          status_code: attempt === 1 ? 500 : 200,
          ok: attempt === 2,
        })),
      )
      .execute();
    await db
      .insertInto('payment_reviews')
      .values({
        merchant_id: 'tl',
        kind: 'second_payment',
        reference: '4200TL1-2',
        out_trade_no: 'TL1',
        provider: 'wxpay',
        amount: 1000,
        status: 'RESOLVED',
        note: 'refunded the second payment',
        create_date: at(70),
        resolve_date: at(80),
      })
      .execute();

    const timeline = await orderTimeline(db, 'tl', 'TL1');
    expect(timeline.journalShared).toBe(false);
    expect(timeline.order).toMatchObject({ outTradeNo: 'TL1', status: 'PARTIAL_REFUNDED', refundedFen: 300 });
    expect(timeline.order.custom).toEqual({ note: 'gift', user_info: '[sealed]', api_token: '[redacted]' });
    const kinds = timeline.entries.map((entry) =>
      entry.kind === 'journal' ? `journal:${entry.operation}` : entry.kind,
    );
    expect(kinds).toEqual([
      'created',
      'journal:create',
      'journal:query',
      'error',
      'callback',
      'journal:apply_notify',
      'paid',
      'webhook_event',
      'webhook_attempt',
      'webhook_attempt',
      'refund',
      'refund_settled',
      'review',
      'review_resolved',
    ]);
    const times = timeline.entries.map((entry) => Date.parse(entry.at));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    const create = timeline.entries[1]!;
    expect(create).toMatchObject({ kind: 'journal', gateway: true, latencyMs: 42, provider: 'wxpay' });
    const shown = JSON.stringify(timeline);
    for (const secret of ['SECRETDATA', 'tok_live', 'hunter2', 'zzz', '"abc"', '/srv/app.js'])
      expect(shown).not.toContain(secret);
    expect(timeline.entries.find((entry) => entry.kind === 'webhook_event')).toMatchObject({
      deliveries: [{ endpointId: 'we_tl', status: 'DELIVERED', attempts: 2 }],
    });

    // Another merchant's order of the same number and gateway: the journal cannot be told apart.
    await db
      .insertInto('payment_orders')
      .values({
        merchant_id: 'tl2',
        out_trade_no: 'TL1',
        provider: 'wxpay',
        scene: 'native',
        type: 'goods',
        subject: 'same number',
        total_fee: 5,
        status: 'NOTPAY',
      })
      .execute();
    const ambiguous = await orderTimeline(db, 'tl2', 'TL1');
    expect(ambiguous.journalShared).toBe(true);
    expect(ambiguous.entries.map((entry) => entry.kind)).toEqual(['created']);
    expect(await codeOf(orderTimeline(db, 'tl', 'NOPE'))).toBe(40005);
  });

  it('reviews are listed across the operator’s merchants in keyset pages, and reconciled days with their mismatches', async () => {
    const reviewAt = (n: number) => new Date(Date.parse('2026-06-01T00:00:00Z') + n * 60_000);
    await db
      .insertInto('payment_reviews')
      .values(
        Array.from({ length: 12 }, (_, n) => ({
          merchant_id: n % 2 === 0 ? 'r1' : 'r2',
          kind: n % 3 === 0 ? 'bill_mismatch' : 'refund_stuck',
          reference: `2026-05-31:amount:R${n}`,
          out_trade_no: `R${n}`,
          provider: 'wxpay',
          details: JSON.stringify({ date: '2026-05-31', reason: 'amount' }),
          status: n < 10 ? ('OPEN' as const) : ('RESOLVED' as const),
          create_date: reviewAt(n % 6),
        })),
      )
      .execute();
    const seen: string[] = [];
    let after: string | undefined;
    do {
      const page = await searchReviews(db, { merchantIds: ['r1', 'r2'], status: 'ALL', limit: 5, after });
      seen.push(...page.rows.map((review) => review.reference));
      after = page.next ?? undefined;
    } while (after);
    expect(new Set(seen).size).toBe(12);
    const open = await searchReviews(db, { merchantIds: ['r1'], kind: ['bill_mismatch'], limit: 200 });
    expect(
      open.rows.every((r) => r.merchantId === 'r1' && r.kind === 'bill_mismatch' && r.status === 'OPEN'),
    ).toBe(true);
    expect(open.rows.map((r) => r.reference)).toEqual(['2026-05-31:amount:R6', '2026-05-31:amount:R0']);
    expect(await codeOf(searchReviews(db, { after: 'bogus!' }))).toBe(40001);
    expect(await codeOf(searchReviews(db, { kind: ['nonsense' as never] }))).toBe(40001);

    await db
      .insertInto('reconciled_days')
      .values(
        ['r1', 'r2'].map((merchant) => ({
          provider: 'wxpay',
          merchant_id: merchant,
          bill_date: '2026-05-31',
          status: 'DONE' as const,
          outcome: JSON.stringify({ mismatches: 2 }),
        })),
      )
      .execute();
    const days = await reconciliationDays(vkPay.context, { merchantIds: ['r2'] });
    expect(days).toHaveLength(1);
    expect(days[0]).toMatchObject({ merchantId: 'r2', date: '2026-05-31', status: 'DONE' });
    expect(days[0]!.mismatches.map((r) => r.reference)).toEqual([
      '2026-05-31:amount:R3',
      '2026-05-31:amount:R9',
    ]);
    expect(await reconciliationDays(vkPay.context, { merchantIds: [] })).toEqual([]);
  });
});
