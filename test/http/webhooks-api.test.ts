/**
 * The webhook API as a merchant backend calls it, signed: endpoints made, changed, rotated, pinged
 * and disabled without a restart; events listed and replayed; every bad input answered 4xx in the
 * envelope, changing nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startWxpayHarness, type WxpayHarness } from '../e2e/harness.ts';
import { backends } from '../support/backends.ts';
import { signed } from '../support/signed-client.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

const APP = { appId: 'app1', secret: 'x'.repeat(40) };

describe.each(backends)('the webhook API on $name', (backend) => {
  let h: WxpayHarness;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    h = await startWxpayHarness(backend, {
      vkPay: {
        webhooks: {
          timeFactor: 0.0001,
          pollIntervalMs: 50,
          endpoints: [
            {
              id: 'from-config',
              merchantId: 'shop1',
              url: 'http://127.0.0.1:9/never',
              orderTypes: ['custom'],
              secret: `whsec_${Buffer.alloc(32, 7).toString('base64')}`,
            },
          ],
        },
      },
    });
    h.vkPay.startWebhookDelivery();
    receiver = await startWebhookReceiver();
  });
  afterAll(async () => {
    await h?.close();
    await receiver?.close();
  });

  const api = async (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown) => {
    const response = await h.app.inject(signed(APP, method, url, body));
    return { status: response.statusCode, json: response.json() };
  };

  it('makes an endpoint, shows its secret once, pings it, and lists the ping', async () => {
    const made = await api('POST', '/api/webhooks/endpoints', {
      url: `${receiver.url}/hooks`,
      order_types: ['goods'],
      events: ['payment.succeeded', 'refund.succeeded'],
      description: 'goods backend',
      timeout_ms: 3000,
    });
    expect(made.status).toBe(200);
    expect(made.json.data.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const endpoint = made.json.data.endpoint;
    expect(endpoint).toMatchObject({
      url: `${receiver.url}/hooks`,
      order_types: ['goods'],
      events: ['payment.succeeded', 'refund.succeeded'],
      source: 'api',
      enabled: true,
      timeout_ms: 3000,
    });
    receiver.secrets = [made.json.data.secret];

    const listed = await api('GET', '/api/webhooks/endpoints');
    expect(listed.json.data.endpoints.map((e: { id: string }) => e.id)).toEqual(
      expect.arrayContaining([endpoint.id, 'from-config']),
    );
    expect(JSON.stringify(listed.json)).not.toContain(made.json.data.secret);
    const stored = await h.vkPay.store.db
      .selectFrom('webhook_endpoints')
      .select('secret_sealed')
      .where('id', '=', endpoint.id)
      .executeTakeFirstOrThrow();
    expect(JSON.stringify(stored)).not.toContain(made.json.data.secret.slice(6));

    const ping = await api('POST', `/api/webhooks/endpoints/${endpoint.id}/ping`);
    expect(ping.status).toBe(200);
    expect(ping.json.data.delivery.attempt_log[0]).toMatchObject({ ok: true, status_code: 200 });
    expect(receiver.verifiedOf('webhook.ping').some((r) => r.id === ping.json.data.event_id)).toBe(true);

    const events = await api('GET', '/api/webhooks/events?type=webhook.ping');
    expect(events.json.data.events[0]).toMatchObject({
      id: ping.json.data.event_id,
      deliveries: [{ endpoint_id: endpoint.id, status: 'DELIVERED', attempts: 1 }],
    });
    const one = await api('GET', `/api/webhooks/events/${ping.json.data.event_id}`);
    expect(one.json.data.event).toMatchObject({ type: 'webhook.ping', data: { endpoint_id: endpoint.id } });

    const replayed = await api('POST', `/api/webhooks/events/${ping.json.data.event_id}/replay`);
    expect(replayed.status).toBe(200);
    await eventually(
      async () => receiver.received.filter((r) => r.id === ping.json.data.event_id).length,
      (count) => count === 2,
    );
    // The receiver has the replay; the delivery's row is written when its answer is read.
    const after = await eventually(
      () => api('GET', `/api/webhooks/events/${ping.json.data.event_id}`),
      (answer) => answer.json.data.deliveries[0].status === 'DELIVERED',
    );
    expect(after.json.data.deliveries[0]).toMatchObject({ status: 'DELIVERED', attempts: 2 });
    expect(after.json.data.deliveries[0].attempt_log.map((a: { attempt: number }) => a.attempt)).toEqual([
      1, 2,
    ]);
  });

  it('tells Prometheus where deliveries stand', async () => {
    const metrics = await h.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body).toMatch(/vkpay_webhook_deliveries\{status="FAILED"\} \d+/);
    expect(metrics.body).toMatch(/vkpay_webhook_oldest_due_seconds \d/);
  });

  it('changes, rotates and disables an endpoint without a restart', async () => {
    const made = (await api('POST', '/api/webhooks/endpoints', { url: `${receiver.url}/a` })).json.data;
    const changed = await api('PATCH', `/api/webhooks/endpoints/${made.endpoint.id}`, {
      url: `${receiver.url}/b`,
      order_types: ['vip'],
      events: null,
    });
    expect(changed.json.data.endpoint).toMatchObject({
      url: `${receiver.url}/b`,
      order_types: ['vip'],
      events: null,
    });
    const rotated = await api('POST', `/api/webhooks/endpoints/${made.endpoint.id}/rotate-secret`, {
      grace_seconds: 600,
    });
    expect(rotated.json.data.secret).not.toBe(made.secret);
    expect(Date.parse(rotated.json.data.endpoint.previous_secret_until)).toBeGreaterThan(
      Date.now() + 590_000,
    );
    const disabled = await api('DELETE', `/api/webhooks/endpoints/${made.endpoint.id}`);
    expect(disabled.json.data.endpoint.enabled).toBe(false);
    const ping = await api('POST', `/api/webhooks/endpoints/${made.endpoint.id}/ping`);
    expect(ping).toMatchObject({ status: 400, json: { code: 40001, field: 'id' } });
    const again = await api('PATCH', `/api/webhooks/endpoints/${made.endpoint.id}`, { enabled: true });
    expect(again.json.data.endpoint.enabled).toBe(true);
  });

  it('refuses to change an endpoint of the configuration file over the API', async () => {
    const refused = await api('PATCH', '/api/webhooks/endpoints/from-config', {
      url: 'http://127.0.0.1:1/x',
    });
    expect(refused).toMatchObject({ status: 403, json: { code: 40009 } });
    const rotate = await api('POST', '/api/webhooks/endpoints/from-config/rotate-secret', {});
    expect(rotate.status).toBe(403);
  });

  it('answers every bad input in the envelope with 4xx and changes nothing', async () => {
    const before = (await api('GET', '/api/webhooks/endpoints')).json.data.endpoints.length;
    const cases: Array<[string, string, unknown, number]> = [
      ['POST', '/api/webhooks/endpoints', { url: 'ftp://x' }, 400],
      ['POST', '/api/webhooks/endpoints', { url: 'javascript:alert(1)' }, 400],
      ['POST', '/api/webhooks/endpoints', { url: 'http://u:p@127.0.0.1/x' }, 400],
      ['POST', '/api/webhooks/endpoints', { url: `http://127.0.0.1/${'a'.repeat(3000)}` }, 400],
      ['POST', '/api/webhooks/endpoints', { url: 'http://127.0.0.1/x', order_types: ['Bad Type'] }, 400],
      ['POST', '/api/webhooks/endpoints', { url: 'http://127.0.0.1/x', order_types: [] }, 400],
      ['POST', '/api/webhooks/endpoints', { url: 'http://127.0.0.1/x', events: ['payment.exploded'] }, 400],
      ['POST', '/api/webhooks/endpoints', { url: 'http://127.0.0.1/x', timeout_ms: 1e300 }, 400],
      ['POST', '/api/webhooks/endpoints', { url: 'http://127.0.0.1/x', timeout_ms: 10 }, 400],
      ['POST', '/api/webhooks/endpoints', { url: 'http://127.0.0.1/x\u0000y' }, 400],
      ['POST', '/api/webhooks/endpoints', { url: 'http://127.0.0.1/x', description: 'a\u0000b' }, 400],
      ['POST', '/api/webhooks/endpoints', { url: 'http://127.0.0.1/x y' }, 400],
      ['POST', '/api/webhooks/endpoints', { url: 'http://127.0.0.1/x', description: '\ud800' }, 400],
      ['POST', '/api/webhooks/endpoints', { url: 'http://127.0.0.1/x', secret: 'mine' }, 400],
      ['POST', '/api/webhooks/endpoints', {}, 400],
      ['GET', '/api/webhooks/endpoints/nope', undefined, 404],
      ['GET', '/api/webhooks/endpoints/%00', undefined, 400],
      ['GET', `/api/webhooks/endpoints/${'a'.repeat(65)}`, undefined, 400],
      ['GET', '/api/webhooks/events/evt_000000000000000000000000', undefined, 404],
      ['GET', '/api/webhooks/events/not-an-event', undefined, 400],
      ['GET', '/api/webhooks/events?from=yesterday', undefined, 400],
      ['GET', '/api/webhooks/events?status=LOST', undefined, 400],
      ['POST', '/api/webhooks/endpoints/nope/rotate-secret', { grace_seconds: -1 }, 400],
      ['POST', '/api/webhooks/replay', { from: '2026-01-02', to: '2026-01-01' }, 400],
      ['POST', '/api/webhooks/events/evt_000000000000000000000000/replay', {}, 404],
    ];
    for (const [method, url, body, status] of cases) {
      const answer = await api(method as 'GET', url, body);
      expect(answer.status, `${method} ${url} ${JSON.stringify(body)}`).toBe(status);
      if (status !== 200)
        expect(answer.json).toMatchObject({ code: expect.any(Number), msg: expect.any(String) });
    }
    const after = (await api('GET', '/api/webhooks/endpoints')).json.data.endpoints.length;
    expect(after).toBe(before);
  });

  it('acts for the request merchant only', async () => {
    const foreign = await h.vkPay.createWebhookEndpoint('another-merchant', { url: 'http://127.0.0.1:9/x' });
    const seen = await api('GET', `/api/webhooks/endpoints/${foreign.endpoint.id}`);
    expect(seen.status).toBe(404);
    const asOther = await api('GET', '/api/webhooks/endpoints?merchant=another-merchant');
    expect(asOther.status).toBe(403);
  });
});
