/**
 * The overview at /console over inject: the figures of a known set of orders and journal rows, in
 * JSON and on the page; a viewer sees them; a merchant-scoped operator sees only their merchants,
 * and another merchant's figures answer as not found (40005).
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rolledUntil, startJournalRollupJob } from '../../src/service/journal-rollup.ts';
import type { VkPay } from '../../src/vk-pay.ts';
import { backends } from '../support/backends.ts';
import { addUser, ConsoleClient, consoleApp, PASSWORD } from './client.ts';

describe.each(backends)('the console overview on $name', (backend) => {
  let vkPay: VkPay;
  let app: FastifyInstance;
  const hourAgo = () => new Date(Date.now() - 3600_000);

  beforeAll(async () => {
    vkPay = await backend.open();
    app = await consoleApp(vkPay);
    const db = vkPay.store.db;
    // shopA: three orders two hours ago, two of them paid (1,000 and 2,550 fen); shopB: one paid.
    const at = new Date(Date.now() - 2 * 3600_000);
    const order = (merchant: string, no: string, fee: number, status: 'SUCCESS' | 'NOTPAY') => ({
      merchant_id: merchant,
      out_trade_no: no,
      provider: 'wxpay',
      scene: 'native',
      type: 'goods',
      subject: 'overview',
      total_fee: fee,
      status,
      create_date: at,
      update_date: at,
    });
    await db
      .insertInto('payment_orders')
      .values([
        order('shopA', 'OVA1', 1000, 'SUCCESS'),
        order('shopA', 'OVA2', 2550, 'SUCCESS'),
        order('shopA', 'OVA3', 700, 'NOTPAY'),
        order('shopB', 'OVB1', 9900, 'SUCCESS'),
      ])
      .execute();
    const log = (no: string, status: 'SUCCESS' | 'ERROR', ms: number, code?: number) => ({
      type: 'create',
      status,
      out_trade_no: no,
      provider: 'wxpay',
      response_ms: ms,
      error: code === undefined ? null : JSON.stringify({ code }),
      create_date: at,
    });
    await db
      .insertInto('payment_logs')
      .values([
        log('OVA1', 'SUCCESS', 100),
        log('OVA2', 'SUCCESS', 200),
        log('OVA3', 'ERROR', 300, 50000),
        log('OVB1', 'SUCCESS', 900),
      ])
      .execute();
    await db
      .insertInto('payment_reviews')
      .values({
        merchant_id: 'shopB',
        kind: 'refund_stuck',
        reference: 'OVB1R',
        out_trade_no: 'OVB1',
        status: 'OPEN',
      })
      .execute();
    // Alerts are the service's, not a merchant's: one fired in the range, one long before, still open.
    const alertRow = (kind: 'firing' | 'repeated' | 'resolved', when: Date, incident: Date) => ({
      alert: 'vkpay_error_rate',
      kind,
      incident,
      rate: 0.5,
      errors: 10,
      events: 20,
      threshold: 0.1,
      window_minutes: 5,
      by_code: '[]',
      at: when,
    });
    const weekAgo = new Date(Date.now() - 7 * 86_400_000);
    await db
      .insertInto('monitoring_alerts')
      .values([
        alertRow('firing', weekAgo, weekAgo),
        alertRow('resolved', new Date(weekAgo.getTime() + 60_000), weekAgo),
        alertRow('firing', at, at),
        alertRow('repeated', new Date(at.getTime() + 1000), at),
      ])
      .execute();
    await addUser(vkPay, 'vic', 'viewer');
    await addUser(vkPay, 'sam', 'operator', ['shopA']);
  }, 300_000);
  afterAll(async () => {
    await app.close();
    await vkPay.close();
  });

  async function signedIn(name: string): Promise<ConsoleClient> {
    const client = new ConsoleClient(app);
    expect((await client.signIn(name, PASSWORD)).statusCode).toBe(200);
    return client;
  }

  it('shows a viewer every merchant’s figures in JSON, with the alert threshold and open reviews', async () => {
    const vic = await signedIn('vic');
    const answer = await vic.get('/console?range=24h');
    expect(answer.statusCode).toBe(200);
    const data = answer.json().data;
    expect(data).toMatchObject({ range: '24h', merchant: 'all', scoped: false, user: { name: 'vic' } });
    expect(data.merchants).toEqual(['shopA', 'shopB']);
    expect(data.overview.totals).toMatchObject({
      created: 4,
      paid: 3,
      paidFen: 1000 + 2550 + 9900,
      events: 4,
      errors: 1,
      errorRate: 0.25,
    });
    expect(data.overview.bucket).toBe('15m');
    expect(data.overview.alert.threshold).toBe(0.1);
    expect(data.overview.reviews.open).toBe(1);
    // 100, 200, 300 and 900 ms in the latency histogram are 101, 202, 300 and 892 ms (within 1 %);
    // percentile_cont over the times themselves would give 250, 810 and 882.
    expect(data.overview.latency).toEqual([
      { provider: 'wxpay', operation: 'create', calls: 4, errors: 1, p50Ms: 251, p95Ms: 803, p99Ms: 874 },
    ]);
    expect(data.overview.alerts).toEqual({ fired: 1, firing: true });
    expect((await vic.get('/console?range=30d')).json().data.overview.alerts).toEqual({
      fired: 2,
      firing: true,
    });

    const shopB = (await vic.get('/console?range=7d&merchant=shopB')).json().data;
    expect(shopB.overview.bucket).toBe('1h');
    expect(shopB.overview.totals).toMatchObject({ created: 1, paid: 1, paidFen: 9900, events: 1 });
    // A merchant with nothing yet is no secret to an unscoped viewer: zeros.
    expect((await vic.get('/console?merchant=shopZ')).json().data.overview.totals.created).toBe(0);
  });

  it('limits a scoped operator to their merchants and answers 40005 for another’s', async () => {
    const sam = await signedIn('sam');
    const mine = (await sam.get('/console?range=24h')).json().data;
    expect(mine).toMatchObject({ merchant: 'all', scoped: true, merchants: ['shopA'] });
    expect(mine.overview.totals).toMatchObject({ created: 3, paid: 2, paidFen: 3550, events: 3, errors: 1 });
    expect(mine.overview.reviews.open).toBe(0);
    expect((await sam.get('/console?range=30d&merchant=shopA')).json().data.overview.totals.created).toBe(3);

    for (const merchant of ['shopB', 'shopZ']) {
      const refused = await sam.get(`/console?range=24h&merchant=${merchant}`);
      expect(refused.statusCode).toBe(404);
      expect(refused.json()).toMatchObject({ code: 40005 });
      const page = await sam.get(`/console?merchant=${merchant}`, { html: true });
      expect(page.statusCode).toBe(404);
      expect(page.body).not.toContain('9,900');
    }
  });

  it('refuses a range it does not offer (40001) and anyone signed out (40002)', async () => {
    const vic = await signedIn('vic');
    const bad = await vic.get('/console?range=2d');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 40001 });
    expect((await vic.get('/console?merchant=')).json()).toMatchObject({ code: 40001 });
    const nobody = new ConsoleClient(app);
    const refused = await nobody.get('/console?range=24h');
    expect(refused.statusCode).toBe(401);
    expect(refused.json()).toMatchObject({ code: 40002 });
  });

  it('renders the figures as tables on the page, in English and Chinese, with the charts’ places', async () => {
    const vic = await signedIn('vic');
    const page = await vic.get('/console?range=24h&lang=en', { html: true });
    expect(page.statusCode).toBe(200);
    const html = page.body;
    expect(html).toContain('<h1>Overview</h1>');
    expect(html).toMatch(/<option value="24h" selected>Last 24 hours<\/option>/);
    expect(html).toContain('data-figure="paidFen">¥134.50<');
    expect(html).toContain('data-figure="successRate">75.0%<');
    expect(html).toContain('alert threshold 10.0%');
    expect(html).toContain('data-figure="alertsFired">1<');
    expect(html).toMatch(/data-figure="alertsFired-note">[^<]*firing now/);
    expect(html).toContain('href="/console/alerts?lang=en"');
    expect(html).toContain('<th scope="row">wxpay</th><td>create</td>');
    expect(html).toContain('803 ms');
    // Every chart is an image labelled by its caption, described by the note pointing to the tables.
    expect(html.match(/role="img" aria-labelledby="chart-[a-z]+-caption"/g)).toHaveLength(4);
    // 15-minute rows over 24 hours: 96, or 97 when the range starts inside a row.
    expect(html.match(/<tr><th scope="row"><time/g)?.length).toBeGreaterThanOrEqual(96);
    expect(html.match(/<tr><th scope="row"><time/g)?.length).toBeLessThanOrEqual(97);
    const data = /<script type="application\/json" id="overview-data">([^<]*)<\/script>/.exec(html)?.[1];
    expect(JSON.parse(data!).view.overview.totals.created).toBe(4);
    // The chosen range and merchant are kept when switching language.
    expect(html).toContain('href="/console?range=24h&amp;merchant=all&amp;lang=zh"');

    const zh = (await vic.get('/console?range=7d&lang=zh', { html: true })).body;
    expect(zh).toContain('<h1>概览</h1>');
    expect(zh).toContain('最近 7 天');
    expect(zh).toContain('支付金额');
  });

  it('counts a journal row of the current hour at once', async () => {
    const vic = await signedIn('vic');
    const before = (await vic.get('/console?range=1h')).json().data.overview.totals.events;
    await vkPay.store.db
      .insertInto('payment_logs')
      .values({ type: 'query', status: 'SUCCESS', out_trade_no: 'OVA1', provider: 'wxpay', response_ms: 40 })
      .execute();
    const after = (await vic.get('/console?range=1h')).json().data.overview;
    expect(after.totals.events).toBe(before + 1);
    expect(after.bucket).toBe('1m');
    expect(hourAgo().getTime()).toBeLessThan(Date.parse(after.buckets[1].at));
  });

  it('shows the same figures once the rollup job has summed the closed hours', async () => {
    const vic = await signedIn('vic');
    const before = (await vic.get('/console?range=7d')).json().data.overview;
    expect(await rolledUntil(vkPay.store.db)).toBeNull();
    const stop = startJournalRollupJob(vkPay.context, 50);
    try {
      for (let waited = 0; waited < 200 && (await rolledUntil(vkPay.store.db)) === null; waited++)
        await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      stop();
    }
    const until = await rolledUntil(vkPay.store.db);
    expect(until!.getTime()).toBeGreaterThan(Date.now() - 2 * 3600_000);
    const rows = await vkPay.store.db.selectFrom('journal_hourly').selectAll().execute();
    expect(rows.filter((row) => row.merchant_id === '').reduce((sum, row) => sum + row.events, 0)).toBe(4);
    const after = (await vic.get('/console?range=7d')).json().data.overview;
    expect({ totals: after.totals, latency: after.latency, series: after.latencySeries }).toEqual({
      totals: before.totals,
      latency: before.latency,
      series: before.latencySeries,
    });
  });
});
