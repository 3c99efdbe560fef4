import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { searchDeliveries } from '../../src/console/deliveries.ts';
import { recordAlert } from '../../src/service/alert-history.ts';
import { recordReview } from '../../src/service/reviews.ts';
import type { VkPay } from '../../src/vk-pay.ts';
import { backends } from '../support/backends.ts';
import { orderRequest } from '../support/orders.ts';
import { addUser, ConsoleClient, consoleApp, PASSWORD } from './client.ts';

describe.each(backends)('console reviews, deliveries and alerts on $name', (backend) => {
  let vkPay: VkPay;
  let app: FastifyInstance;
  const reviewIds: Record<string, number> = {};
  const orderOf: Record<string, string> = {};

  beforeAll(async () => {
    vkPay = await backend.open();
    app = await consoleApp(vkPay);
    await addUser(vkPay, 'olga', 'operator');
    await addUser(vkPay, 'vera', 'viewer');
    await addUser(vkPay, 'sam', 'operator', ['shopA']);
    for (const merchant of ['shopA', 'shopB']) {
      // An endpoint per merchant: each review.opened event gets a delivery (no worker runs here).
      await vkPay.createWebhookEndpoint(merchant, { url: `http://127.0.0.1:9/${merchant}` });
      const request = orderRequest({ merchantId: merchant });
      await vkPay.createOrder(request);
      orderOf[merchant] = String(request.out_trade_no);
      reviewIds[merchant] = await recordReview(vkPay.context, {
        merchantId: merchant,
        kind: 'refund_abnormal',
        reference: `R-${merchant}`,
        outTradeNo: orderOf[merchant],
        provider: 'wxpay',
        amountFen: 100,
        details: { gatewayCode: 'FROZEN' },
      });
    }
    reviewIds.second = await recordReview(vkPay.context, {
      merchantId: 'shopA',
      kind: 'second_payment',
      reference: 'TX-SECOND',
      outTradeNo: orderOf.shopA,
      amountFen: 8880,
    });
    // Enough closed cases of a third merchant for two pages.
    for (let i = 0; i < 52; i++)
      await recordReview(vkPay.context, { merchantId: 'shopC', kind: 'refund_stuck', reference: `S${i}` });
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

  const auditRows = (action: string) =>
    vkPay.store.db
      .selectFrom('console_audit')
      .selectAll()
      .where('action', '=', action)
      .orderBy('id')
      .execute();

  const deliveryOf = async (merchant: string) =>
    vkPay.store.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('merchant_id', '=', merchant)
      .orderBy('id')
      .executeTakeFirstOrThrow();

  it('lists the review queue with filters and keyset pages, within the operator’s merchants', async () => {
    const olga = await signedIn('olga');
    const all = await olga.get('/console/reviews');
    expect(all.statusCode).toBe(200);
    const first = all.json().data;
    expect(first.rows).toHaveLength(50);
    expect(first.next).toEqual(expect.any(String));
    const second = (await olga.get(`/console/reviews?after=${first.next}`)).json().data;
    expect(second.rows).toHaveLength(55 - 50);
    expect(second.next).toBeNull();
    const ids = [...first.rows, ...second.rows].map((row: { id: number }) => row.id);
    expect(new Set(ids).size).toBe(55);

    const shopA = (await olga.get('/console/reviews?merchant=shopA')).json().data.rows;
    expect(shopA.map((row: { id: number }) => row.id).sort()).toEqual(
      [reviewIds.shopA, reviewIds.second].sort(),
    );
    const kind = (await olga.get('/console/reviews?kind=second_payment')).json().data.rows;
    expect(kind.map((row: { id: number }) => row.id)).toEqual([reviewIds.second]);
    const today = new Date().toISOString().slice(0, 10);
    expect((await olga.get(`/console/reviews?from=2020-01-01&to=2020-01-02`)).json().data.rows).toEqual([]);
    expect((await olga.get(`/console/reviews?from=${today}&to=${today}`)).json().data.rows).toHaveLength(50);

    // A scoped operator sees their merchants only, whatever the filter asks.
    const sam = await signedIn('sam');
    const samRows = (await sam.get('/console/reviews')).json().data.rows;
    expect(new Set(samRows.map((row: { merchantId: string }) => row.merchantId))).toEqual(new Set(['shopA']));
    expect((await sam.get('/console/reviews?merchant=shopB')).json().data.rows).toEqual([]);

    // As a page: a table row per case, filters with labels.
    const page = await olga.get('/console/reviews?merchant=shopA&lang=en', { html: true });
    expect(page.statusCode).toBe(200);
    expect(page.body.match(/data-testid="review-row"/g)).toHaveLength(2);
    expect(page.body).toContain('<label for="f-kind">Kind</label>');
    const zh = await olga.get('/console/reviews?lang=zh', { html: true });
    expect(zh.body).toContain('<h1>人工审核</h1>');
    expect(zh.body).toContain('rel="next"');
  });

  it('shows a case with its order and deliveries, and resolves it with a note and its audit row', async () => {
    const olga = await signedIn('olga');
    const id = reviewIds.shopA!;
    const detail = await olga.get(`/console/reviews/${id}`);
    expect(detail.statusCode).toBe(200);
    const data = detail.json().data;
    expect(data.review).toMatchObject({ id, status: 'OPEN', kind: 'refund_abnormal' });
    expect(data.order).toMatchObject({ outTradeNo: orderOf.shopA, status: 'NOTPAY', totalFen: 8880 });
    expect(data.deliveries.map((row: { eventType: string }) => row.eventType)).toContain('review.opened');

    const resolved = await olga.post(`/console/reviews/${id}/resolve`, { note: 'refunded by bank transfer' });
    expect(resolved.statusCode).toBe(200);
    expect(resolved.json().data.review).toMatchObject({
      id,
      status: 'RESOLVED',
      note: 'refunded by bank transfer',
    });
    // The same path as the API's resolve: the merchant is told with a review.resolved event.
    const told = await vkPay.store.db
      .selectFrom('webhook_events')
      .select('id')
      .where('type', '=', 'review.resolved')
      .where('review_id', '=', id)
      .execute();
    expect(told).toHaveLength(1);
    const rows = await auditRows('review.resolved');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      actor_name: 'olga',
      target: `review:${id}`,
      before: { merchantId: 'shopA', kind: 'refund_abnormal', status: 'OPEN' },
      after: { merchantId: 'shopA', status: 'RESOLVED', note: 'refunded by bank transfer' },
    });

    // Once only: a resolved case is refused, and nothing more is written.
    const again = await olga.post(`/console/reviews/${id}/resolve`, { note: 'twice' });
    expect(again.statusCode).toBe(400);
    expect(again.json().code).toBe(40001);
    expect(await auditRows('review.resolved')).toHaveLength(1);
  });

  it('resolves by the form: a redirect to the case, and a short note shown beside its field', async () => {
    const olga = await signedIn('olga');
    const id = reviewIds.second!;
    const page = await olga.get(`/console/reviews/${id}?lang=en`, { html: true });
    expect(page.body).toContain('<label for="note">Note</label>');
    const short = await olga.send('POST', `/console/reviews/${id}/resolve?lang=en`, {
      form: { _csrf: olga.csrf, note: 'x' },
      html: true,
    });
    expect(short.statusCode).toBe(400);
    expect(short.body).toContain('aria-invalid="true"');
    expect(short.body).toContain('The note must say what was done');
    expect((await olga.get(`/console/reviews/${id}`)).json().data.review.status).toBe('OPEN');

    const done = await olga.send('POST', `/console/reviews/${id}/resolve?lang=en`, {
      form: { _csrf: olga.csrf, note: 'second payment refunded at the gateway' },
      html: true,
    });
    expect(done.statusCode).toBe(303);
    expect(done.headers.location).toBe(`/console/reviews/${id}?done=1&lang=en`);
    const after = await olga.get(String(done.headers.location), { html: true });
    expect(after.body).toContain(`Review #${id} is resolved.`);
    expect(after.body).toContain('second payment refunded at the gateway');
    expect(after.body).not.toContain('id="note"');
    expect((await auditRows('review.resolved')).at(-1)).toMatchObject({ target: `review:${id}` });
  });

  it('refuses a viewer (40009), another merchant’s case (40005) and a change without its CSRF token', async () => {
    const id = reviewIds.shopB!;
    const before = (await auditRows('review.resolved')).length;
    const vera = await signedIn('vera');
    expect((await vera.get(`/console/reviews/${id}`)).statusCode).toBe(200);
    const viewer = await vera.post(`/console/reviews/${id}/resolve`, { note: 'not mine to do' });
    expect(viewer.statusCode).toBe(403);
    expect(viewer.json().code).toBe(40009);

    const sam = await signedIn('sam');
    const read = await sam.get(`/console/reviews/${id}`);
    expect(read.json().code).toBe(40005);
    const act = await sam.post(`/console/reviews/${id}/resolve`, { note: 'not my merchant' });
    expect(act.json().code).toBe(40005);
    expect(act.statusCode).toBeLessThan(500);
    const missing = await sam.get('/console/reviews/999999');
    expect(missing.json().code).toBe(40005);

    const olga = await signedIn('olga');
    const forged = await olga.post(
      `/console/reviews/${id}/resolve`,
      { note: 'forged' },
      { 'x-csrf-token': '' },
    );
    expect(forged.statusCode).toBe(403);
    expect(forged.json().code).toBe(40009);
    const anonymous = await new ConsoleClient(app).get(`/console/reviews/${id}`);
    expect(anonymous.json().code).toBe(40002);

    expect((await olga.get(`/console/reviews/${id}`)).json().data.review.status).toBe('OPEN');
    expect(await auditRows('review.resolved')).toHaveLength(before);
  });

  it('lists deliveries by merchant, endpoint, type and status with attempts and the last answer', async () => {
    const failed = await deliveryOf('shopB');
    // The endpoint refused every attempt of the schedule: the delivery is exhausted.
    await vkPay.store.db
      .updateTable('webhook_deliveries')
      .set({ status: 'FAILED', attempts: 3, last_status_code: 500, next_attempt_at: null })
      .where('id', '=', failed.id)
      .execute();
    await vkPay.store.db
      .insertInto('webhook_attempts')
      .values({
        delivery_id: failed.id,
        event_id: failed.event_id,
        endpoint_id: failed.endpoint_id,
        attempt: 3,
        ok: false,
        status_code: 500,
        latency_ms: 12,
        response_excerpt: 'upstream broke',
        error: null,
        started_at: new Date(),
        instance: 'test',
      })
      .execute();
    const olga = await signedIn('olga');
    const all = (await olga.get('/console/deliveries')).json().data;
    expect(all.rows.length).toBeGreaterThanOrEqual(3);
    const onlyFailed = (await olga.get('/console/deliveries?status=failed')).json().data.rows;
    expect(onlyFailed).toEqual([
      expect.objectContaining({
        id: Number(failed.id),
        merchantId: 'shopB',
        status: 'FAILED',
        attempts: 3,
        lastStatusCode: 500,
        lastResponse: 'upstream broke',
      }),
    ]);
    const byEndpoint = (await olga.get(`/console/deliveries?endpoint=${failed.endpoint_id}`)).json().data
      .rows;
    expect(new Set(byEndpoint.map((row: { merchantId: string }) => row.merchantId))).toEqual(
      new Set(['shopB']),
    );
    const byType = (await olga.get('/console/deliveries?type=review.resolved&merchant=shopA')).json().data
      .rows;
    expect(byType.length).toBeGreaterThanOrEqual(1);
    expect(byType.every((row: { eventType: string }) => row.eventType === 'review.resolved')).toBe(true);
    expect((await olga.get('/console/deliveries?status=delivered')).json().data.rows).toEqual([]);
    // Keyset pages of two: every delivery once, newest first, however the pages fall.
    const paged: number[] = [];
    let cursor: string | undefined;
    do {
      const page = await searchDeliveries(vkPay.store.db, { limit: 2, ...(cursor ? { after: cursor } : {}) });
      paged.push(...page.rows.map((row) => row.id));
      cursor = page.next ?? undefined;
    } while (cursor);
    expect(paged).toEqual(all.rows.map((row: { id: number }) => row.id));

    const sam = await signedIn('sam');
    const samRows = (await sam.get('/console/deliveries')).json().data.rows;
    expect(samRows.length).toBeGreaterThanOrEqual(1);
    expect(samRows.every((row: { merchantId: string }) => row.merchantId === 'shopA')).toBe(true);
    expect((await sam.get('/console/deliveries?merchant=shopB')).json().data.rows).toEqual([]);

    const page = await olga.get('/console/deliveries?status=failed&lang=en', { html: true });
    expect(page.body.match(/data-testid="delivery-row"/g)).toHaveLength(1);
    expect(page.body).toContain('HTTP 500');
    const detail = await olga.get(`/console/deliveries/${failed.id}?lang=zh`, { html: true });
    expect(detail.statusCode).toBe(200);
    expect(detail.body).toContain('重新投递');
    expect(detail.body).toContain('upstream broke');
  });

  it('replays a delivery through the service, with its audit row; viewers, other merchants and forged requests are refused', async () => {
    const failed = await deliveryOf('shopB');
    const id = Number(failed.id);
    const vera = await signedIn('vera');
    const viewer = await vera.post(`/console/deliveries/${id}/replay`, {});
    expect(viewer.statusCode).toBe(403);
    expect(viewer.json().code).toBe(40009);
    expect((await vera.get(`/console/deliveries/${id}`, { html: true })).body).not.toContain('/replay');
    const sam = await signedIn('sam');
    expect((await sam.post(`/console/deliveries/${id}/replay`, {})).json().code).toBe(40005);
    expect((await sam.get(`/console/deliveries/${id}`)).json().code).toBe(40005);
    const olga = await signedIn('olga');
    const forged = await olga.post(
      `/console/deliveries/${id}/replay`,
      {},
      { origin: 'https://evil.example' },
    );
    expect(forged.statusCode).toBe(403);
    expect((await deliveryOf('shopB')).status).toBe('FAILED');
    expect(await auditRows('delivery.replayed')).toHaveLength(0);

    const replayed = await olga.post(`/console/deliveries/${id}/replay`, {});
    expect(replayed.statusCode).toBe(200);
    expect(replayed.json().data.delivery).toMatchObject({ id, status: 'PENDING', attempts: 3 });
    const rows = await auditRows('delivery.replayed');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      actor_name: 'olga',
      target: `delivery:${id}`,
      before: { merchantId: 'shopB', eventId: failed.event_id, status: 'FAILED', attempts: 3 },
      after: { merchantId: 'shopB', eventId: failed.event_id, status: 'PENDING', attempts: 3 },
    });

    // By the form: a redirect to the delivery, which says it is due again.
    const form = await olga.send('POST', `/console/deliveries/${id}/replay?lang=en`, {
      form: { _csrf: olga.csrf },
      html: true,
    });
    expect(form.statusCode).toBe(303);
    expect(form.headers.location).toBe(`/console/deliveries/${id}?done=1&lang=en`);
    const after = await olga.get(String(form.headers.location), { html: true });
    expect(after.body).toContain('The delivery is due again.');
    expect(await auditRows('delivery.replayed')).toHaveLength(2);
  });

  it('lists the alert history newest first, filtered by kind and dates, for any role', async () => {
    const incident = new Date('2026-11-30T08:00:00Z');
    const base = {
      alert: 'vkpay_error_rate',
      incident,
      rate: 0.25,
      errors: 10,
      events: 40,
      threshold: 0.1,
      windowMinutes: 5,
      byCode: [{ code: 40010, count: 10 }],
    };
    await recordAlert(vkPay.context, { ...base, kind: 'firing', at: incident });
    await recordAlert(vkPay.context, { ...base, kind: 'repeated', at: new Date('2026-11-30T09:00:00Z') });
    await recordAlert(vkPay.context, {
      ...base,
      kind: 'resolved',
      rate: 0,
      at: new Date('2026-12-01T09:05:00Z'),
    });
    // Written twice (a retried write): one row.
    await recordAlert(vkPay.context, { ...base, kind: 'firing', at: incident });
    const vera = await signedIn('vera');
    const all = (await vera.get('/console/alerts')).json().data;
    expect(all.rows.map((row: { kind: string }) => row.kind)).toEqual(['resolved', 'repeated', 'firing']);
    expect(all.rows[0]).toMatchObject({ incident: incident.toISOString(), windowMinutes: 5, threshold: 0.1 });
    expect(all.next).toBeNull();
    const repeated = (await vera.get('/console/alerts?kind=repeated')).json().data.rows;
    expect(repeated).toHaveLength(1);
    const day = (await vera.get('/console/alerts?from=2026-11-30&to=2026-11-30')).json().data.rows;
    expect(day.map((row: { kind: string }) => row.kind)).toEqual(['repeated', 'firing']);
    const page = await vera.get('/console/alerts?lang=en', { html: true });
    expect(page.body.match(/data-testid="alert-row"/g)).toHaveLength(3);
    expect(page.body).toContain('40010×10');
    expect(page.body).toContain('25.0%');
    expect((await vera.get('/console/alerts?kind=bogus')).statusCode).toBe(400);
  });

  it('answers bad filters and ids with a 4xx, never a 5xx', async () => {
    const olga = await signedIn('olga');
    for (const url of [
      '/console/reviews?after=not-a-cursor',
      '/console/reviews?from=2026-02-31',
      '/console/reviews?kind=nope',
      '/console/reviews/abc',
      '/console/reviews/1?extra=1',
      '/console/deliveries?after=%7B%7D',
      '/console/deliveries?type=not.a.type',
      '/console/deliveries?status=lost',
      '/console/deliveries/99999999',
      '/console/alerts?before=-1',
      '/console/alerts?to=tomorrow',
    ]) {
      for (const html of [false, true]) {
        const answer = await olga.get(url, { html });
        expect(answer.statusCode, url).toBeGreaterThanOrEqual(400);
        expect(answer.statusCode, url).toBeLessThan(500);
      }
    }
    const note = await olga.post(`/console/reviews/${reviewIds.shopB}/resolve`, { note: 42 });
    expect(note.statusCode).toBe(400);
    const long = await olga.post(`/console/reviews/${reviewIds.shopB}/resolve`, { note: 'x'.repeat(600) });
    expect(long.statusCode).toBe(400);
  });
});
