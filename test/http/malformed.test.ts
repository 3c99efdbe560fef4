/**
 * Malformed requests across every route, as a careless or hostile client sends them: each is
 * answered in the envelope with the expected status and code, and nothing is created or changed.
 * Run signed (production-like, so a request reaches validation) and unsigned (development).
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.ts';
import {
  API_APP,
  MERCHANT,
  paidOrder,
  startWxpayHarness,
  tradeNumbers,
  type WxpayHarness,
} from '../e2e/harness.ts';
import { backends } from '../support/backends.ts';
import { type RawRequest, rawInject } from '../support/raw-request.ts';

interface Case extends RawRequest {
  status: number;
  code: number;
  /** The field the answer names, when it names one. */
  field?: string;
  /** Fields every one of which must be among details.problems. */
  problems?: string[];
}

const FORM = 'application/x-www-form-urlencoded';
const long = (n: number, char = 'a') => char.repeat(n);
/** A body over the 64 KB limit. */
const HUGE = JSON.stringify({ subject: long(70_000) });

function cases(ids: {
  paid: string;
  refund: string;
  endpoint: string;
  review: number;
  token: string;
}): Case[] {
  const payment = {
    provider: 'wxpay',
    out_trade_no: 'MALFORMED0001',
    total_fee: 100,
    subject: 'malformed',
    type: 'goods',
  };
  const pay = (change: Record<string, unknown>, field: string, status = 400): Case => ({
    method: 'POST',
    url: '/api/payments',
    body: { ...payment, ...change },
    status,
    code: 40001,
    field,
  });
  const refund = { out_trade_no: ids.paid, out_refund_no: `${ids.paid}X`, refund_fee: 1 };
  const refundWith = (change: Record<string, unknown>, field: string): Case => ({
    method: 'POST',
    url: '/api/refunds',
    body: { ...refund, ...change },
    status: 400,
    code: 40001,
    field,
  });
  const checkout = { out_trade_no: 'MALFORMEDCK01', total_fee: 100, subject: 'malformed', type: 'goods' };
  const checkoutWith = (change: Record<string, unknown>, field: string): Case => ({
    method: 'POST',
    url: '/api/checkouts',
    body: { ...checkout, ...change },
    status: 400,
    code: 40001,
    field,
  });
  const bad = (method: string, url: string, field?: string, body?: unknown): Case => ({
    method,
    url,
    ...(body === undefined ? {} : { body }),
    status: 400,
    code: 40001,
    ...(field ? { field } : {}),
  });
  const endpoint = `/api/webhooks/endpoints/${ids.endpoint}`;
  return [
    // createPayment: time_expire within what both gateways take
    pay({ time_expire: 0 }, 'time_expire'),
    pay({ time_expire: -5 }, 'time_expire'),
    pay({ time_expire: 59 }, 'time_expire'),
    pay({ time_expire: 15 * 86_400 + 1 }, 'time_expire'),
    pay({ time_expire: 1e300 }, 'time_expire'),
    pay({ time_expire: 10_000_000_000_000 }, 'time_expire'),
    pay({ time_expire: '600' }, 'time_expire'),
    pay({ time_expire: 60.5 }, 'time_expire'),
    // browser URLs: http(s) only, bounded
    pay({ return_url: 'javascript:alert(1)' }, 'return_url'),
    pay({ return_url: 'ftp://x' }, 'return_url'),
    pay({ return_url: `https://shop.example/${long(300)}` }, 'return_url'),
    pay({ other: { quit_url: 'javascript:alert(1)' } }, 'other.quit_url'),
    pay({ other: { note: long(5000) } }, 'other'),
    // every problem at once, an invalid provider included
    {
      ...pay({ provider: 'paypal', subject: 'x', total_fee: '1', time_expire: 0 }, 'total_fee'),
      problems: ['provider', 'subject', 'total_fee', 'time_expire'],
    },
    pay({ out_trade_no: long(33, 'A') }, 'out_trade_no'),
    pay({ out_trade_no: 'short' }, 'out_trade_no'),
    pay({ out_trade_no: 'has space 1' }, 'out_trade_no'),
    pay({ total_fee: 0 }, 'total_fee'),
    pay({ total_fee: -1 }, 'total_fee'),
    pay({ total_fee: 1e300 }, 'total_fee'),
    pay({ total_fee: 1.5 }, 'total_fee'),
    pay({ total_fee: '100' }, 'total_fee'),
    pay({ subject: long(128) }, 'subject'),
    pay({ type: 'Not A Type' }, 'type'),
    pay({ type: long(40) }, 'type'),
    pay({ scene: 'tv' }, 'scene'),
    pay({ isPC: 'yes' }, 'isPC'),
    pay({ user_id: long(129) }, 'user_id'),
    pay({ openid: 7 }, 'openid'),
    pay({ custom: [1, 2] }, 'custom'),
    pay({ custom: { blob: long(5000) } }, 'custom'),
    pay({ context: { userAgent: long(600) } }, 'context.userAgent'),
    pay({ context: { clientIp: 'not an ip' } }, 'context.clientIp'),
    pay({ context: { platform: 'web', extra: 1 } }, 'context.extra'),
    pay({ card_number: '4111111111111111' }, 'card_number'),
    // text PostgreSQL cannot store, wherever it is
    pay({ subject: 'a\u0000b' }, 'subject'),
    pay({ subject: 'a\ud800b' }, 'subject'),
    pay({ user_id: '\u0000' }, 'user_id'),
    pay({ openid: '\ud800' }, 'openid'),
    pay({ custom: { note: 'x\u0000' } }, 'custom.note'),
    pay({ custom: { 'k\u0000': 1 } }, 'custom.k\\u0000'),
    pay({ custom: { deep: { deeper: ['ok', '\udc00'] } } }, 'custom.deep.deeper[1]'),
    pay({ context: { platform: '\u0000' } }, 'context.platform'),
    pay({ other: { attach: '\ud800' } }, 'other.attach'),
    // bodies that are not a payment
    bad('POST', '/api/payments', '(body)', '[]'),
    bad('POST', '/api/payments', '(body)', ''),
    bad('POST', '/api/payments', '(body)', 'null'),
    bad('POST', '/api/payments', '(body)', '5'),
    bad('POST', '/api/payments', '(body)', '{"provider": "wxpay",'),
    // JSON nested ten thousand deep
    {
      ...bad('POST', '/api/payments', undefined, `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`),
      problems: ['a', 'provider'],
    },
    { ...bad('POST', '/api/payments', undefined, {}), problems: ['provider', 'out_trade_no', 'total_fee'] },
    {
      method: 'POST',
      url: '/api/payments',
      body: 'provider=wxpay&total_fee=1',
      contentType: FORM,
      status: 415,
      code: 40001,
    },
    {
      method: 'POST',
      url: '/api/payments',
      body: JSON.stringify(payment),
      contentType: 'text/plain',
      status: 415,
      code: 40001,
    },
    {
      method: 'POST',
      url: '/api/payments',
      body: '--x--',
      contentType: 'multipart/form-data; boundary=x',
      status: 415,
      code: 40001,
    },
    {
      method: 'POST',
      url: '/api/payments',
      body: { ...payment, total_fee: 0 },
      contentType: `application/json; ${Array.from({ length: 400 }, (_, i) => `p${i}=${i}`).join('; ')}`,
      status: 400,
      code: 40001,
      field: 'total_fee',
    },
    { method: 'POST', url: '/api/payments', body: HUGE, status: 413, code: 40001 },
    // queryPayment, closeOrder
    bad('GET', '/api/payments/%00', 'outTradeNo'),
    bad('GET', '/api/payments/AB%00CDEFG', 'outTradeNo'),
    bad('GET', '/api/payments/%ED%A0%80', '(path)'),
    bad('GET', '/api/payments/%E0%A4%A', '(path)'),
    { method: 'GET', url: `/api/payments/${long(1000, 'A')}`, status: 414, code: 40001, field: '(path)' },
    bad('GET', `/api/payments/${long(100, 'A')}`, 'outTradeNo'),
    bad('GET', `/api/payments/${ids.paid}?await_max_time=999`, 'await_max_time'),
    bad('GET', `/api/payments/${ids.paid}?await_notify=%00`, 'await_notify'),
    bad('GET', `/api/payments/${ids.paid}?merchant=%00`, 'merchant'),
    // A merchant the app may not act for is refused before its length is looked at.
    {
      method: 'GET',
      url: `/api/payments/${ids.paid}?merchant=${long(65)}`,
      status: 403,
      code: 40009,
      field: 'merchant',
    },
    bad('GET', `/api/payments/${ids.paid}?debug=1`, 'debug'),
    bad('POST', '/api/payments/%00/close', 'outTradeNo'),
    bad('POST', `/api/payments/${ids.paid}%00/close`, 'outTradeNo'),
    bad('POST', `/api/payments/${ids.paid}/close?x=1`, 'x'),
    { method: 'DELETE', url: `/api/payments/${ids.paid}`, status: 405, code: 40001, field: 'method' },
    // refunds
    refundWith({ refund_fee: 0 }, 'refund_fee'),
    refundWith({ refund_fee: 1e300 }, 'refund_fee'),
    refundWith({ refund_fee: -100 }, 'refund_fee'),
    refundWith({ reason: long(81) }, 'reason'),
    refundWith({ reason: '\u0000' }, 'reason'),
    refundWith({ reason: 'broken \ud800' }, 'reason'),
    refundWith({ out_refund_no: 'has space' }, 'out_refund_no'),
    refundWith({ out_refund_no: long(65, 'R') }, 'out_refund_no'),
    {
      ...bad('POST', '/api/refunds', undefined, {}),
      problems: ['out_trade_no', 'out_refund_no', 'refund_fee'],
    },
    {
      method: 'POST',
      url: '/api/refunds',
      body: 'out_trade_no=x',
      contentType: FORM,
      status: 415,
      code: 40001,
    },
    bad('GET', '/api/refunds/%00', 'outRefundNo'),
    bad('GET', `/api/refunds/${long(65, 'R')}`, 'outRefundNo'),
    bad('POST', '/api/refunds/%00/abnormal', 'outRefundNo', { type: 'MERCHANT_BANK_CARD' }),
    bad('POST', `/api/refunds/${ids.refund}/abnormal`, 'type', { type: 'CASH' }),
    bad('POST', `/api/refunds/${ids.refund}/abnormal`, 'bank_account', {
      type: 'USER_BANK_CARD',
      bank_account: 'abc',
    }),
    bad('POST', `/api/refunds/${ids.refund}/abnormal`, 'real_name', {
      type: 'USER_BANK_CARD',
      real_name: '\u0000',
    }),
    { method: 'PATCH', url: '/api/refunds', status: 405, code: 40001 },
    // reviews
    bad('POST', `/api/reviews/${ids.review}/resolve`, 'note', { note: 'fixed \u0000' }),
    bad('POST', `/api/reviews/${ids.review}/resolve`, 'note', { note: 'x' }),
    bad('POST', `/api/reviews/${ids.review}/resolve`, 'note', { note: long(501) }),
    bad('POST', '/api/reviews/abc/resolve', 'id', { note: 'done by hand' }),
    bad('GET', '/api/reviews?limit=abc', 'limit'),
    bad('GET', '/api/reviews?status=%00', 'status'),
    // routes: the share is checked before the route is looked up
    bad('PUT', '/api/routes/wx-route/share', 'share', { share: -1 }),
    bad('PUT', '/api/routes/wx-route/share', 'share', { share: 101 }),
    bad('PUT', '/api/routes/wx-route/share', 'share', { share: '\u0000' }),
    bad('PUT', '/api/routes/wx-route/share', undefined, { share: 5, extra: 1 }),
    bad('PUT', '/api/routes/%00/share', 'id', { share: 5 }),
    bad('DELETE', '/api/routes/%00/share', 'id'),
    bad('DELETE', '/api/routes/wx-route/share?merchant=%00', 'merchant'),
    // checkouts
    checkoutWith({ time_expire: 0 }, 'time_expire'),
    checkoutWith({ time_expire: 7201 }, 'time_expire'),
    checkoutWith({ time_expire: 1e300 }, 'time_expire'),
    checkoutWith({ return_url: 'javascript:alert(1)' }, 'return_url'),
    checkoutWith({ custom: { '\ud800': 1 } }, 'custom.\\ud800'),
    checkoutWith({ providers: ['paypal'] }, 'providers.0'),
    checkoutWith({ subject: '\u0000\u0000' }, 'subject'),
    // webhook endpoints and events
    bad('POST', '/api/webhooks/endpoints', 'url', { url: 'http://127.0.0.1/\u0000' }),
    bad('POST', '/api/webhooks/endpoints', 'description', {
      url: 'http://127.0.0.1/x',
      description: '\ud800',
    }),
    bad('POST', '/api/webhooks/endpoints', 'timeout_ms', { url: 'http://127.0.0.1/x', timeout_ms: 1e300 }),
    bad('POST', '/api/webhooks/endpoints', 'order_types', {
      url: 'http://127.0.0.1/x',
      order_types: Array.from({ length: 33 }, (_, i) => `t${i}`),
    }),
    bad('GET', '/api/webhooks/endpoints/%00', 'id'),
    bad('PATCH', endpoint, 'description', { description: 'a\u0000' }),
    bad('PATCH', endpoint, 'url', { url: long(3000) }),
    bad('POST', `${endpoint}/rotate-secret`, 'grace_seconds', { grace_seconds: 1e300 }),
    bad('GET', '/api/webhooks/events?from=-271821-04-20T00:00:00Z', 'from'),
    bad('GET', '/api/webhooks/events?from=%00', 'from'),
    bad('POST', '/api/webhooks/replay', 'from', { from: '\u0000', to: '2026-01-01' }),
    bad('POST', '/api/webhooks/replay', 'to', { from: '2026-01-01', to: '+275760-09-13T00:00:00Z' }),
    // routes that do not exist, methods that are not allowed
    { method: 'GET', url: '/api/nope', status: 404, code: 40001 },
    { method: 'GET', url: '/api//payments', status: 404, code: 40001 },
    { method: 'PUT', url: '/api/payments', body: payment, status: 405, code: 40001, field: 'method' },
    { method: 'OPTIONS', url: '/api/refunds', status: 405, code: 40001, field: 'method' },
    // headers
    {
      method: 'GET',
      url: `/api/payments/${ids.paid}`,
      headers: { 'user-agent': 'evil\u0000agent' },
      status: 400,
      code: 40001,
      field: 'header user-agent',
    },
    {
      ...pay({}, 'header accept-language'),
      headers: { 'accept-language': 'en\u0000' },
    },
    // the gateways' callbacks, the cashier, the operators' routes
    bad('POST', '/notify/wxpay/%00', 'merchant', '{}'),
    bad('POST', '/notify/%00/shop1', 'provider', '{}'),
    bad('GET', '/checkout/%00', '(path)'),
    bad('POST', `/checkout/${ids.token}/pay`, 'provider', { provider: '\u0000' }),
    bad('POST', `/checkout/${ids.token}/pay`, '(body)', '{"provider":'),
    {
      method: 'POST',
      url: `/checkout/${ids.token}/pay`,
      body: 'provider=wxpay',
      contentType: FORM,
      status: 415,
      code: 40001,
    },
    bad('POST', '/admin/reconcile', 'provider', { provider: '\u0000', merchant: MERCHANT }),
    bad('POST', '/admin/reconcile', 'merchant', { provider: 'wxpay', merchant: long(65) }),
    bad('GET', '/admin/reconciliations?limit=99999', 'limit'),
    bad('GET', '/admin/stats?from=%00', 'from'),
    bad('GET', '/admin/stats?from=yesterday', 'from'),
  ];
}

describe.each(backends)('malformed requests on $name', (backend) => {
  let h: WxpayHarness;
  let signedApp: FastifyInstance;
  let devApp: FastifyInstance;
  let table: Case[];

  /** Everything a request could create or change, as one comparable value. */
  const snapshot = async () => {
    const { db } = h.vkPay.store;
    const [orders, refunds, reviews, endpoints, events] = await Promise.all([
      db
        .selectFrom('payment_orders')
        .select(['out_trade_no', 'status', 'refunded_fee', 'version', 'subject'])
        .orderBy('id')
        .execute(),
      db
        .selectFrom('payment_refunds')
        .select(['out_refund_no', 'status', 'version', 'reason'])
        .orderBy('id')
        .execute(),
      db.selectFrom('payment_reviews').select(['id', 'status', 'note']).orderBy('id').execute(),
      db
        .selectFrom('webhook_endpoints')
        .select(['id', 'url', 'description', 'enabled', 'version'])
        .orderBy('id')
        .execute(),
      db
        .selectFrom('webhook_events')
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow(),
    ]);
    return { orders, refunds, reviews, endpoints, events: Number(events.n) };
  };

  beforeAll(async () => {
    h = await startWxpayHarness(backend);
    const security = { rateLimitsEnabled: false };
    signedApp = await buildApp({ vkPay: h.vkPay, apps: [API_APP], security });
    devApp = await buildApp({
      vkPay: h.vkPay,
      apps: [API_APP],
      security: { ...security, requireSignature: false },
    });
    const paid = tradeNumbers('MAL')();
    await paidOrder(h, paid, 1000);
    const refundNo = `${paid}R1`;
    await h.vkPay.refund({
      merchantId: MERCHANT,
      out_trade_no: paid,
      out_refund_no: refundNo,
      refund_fee: 100,
    });
    const review = await h.vkPay.store.db
      .insertInto('payment_reviews')
      .values({ merchant_id: MERCHANT, kind: 'close_failed', reference: paid, out_trade_no: paid })
      .returning('id')
      .executeTakeFirstOrThrow();
    const { endpoint } = await h.vkPay.createWebhookEndpoint(MERCHANT, {
      url: 'http://127.0.0.1:9/hooks',
      enabled: false,
    });
    const made = await devApp.inject({
      method: 'POST',
      url: '/api/checkouts',
      payload: { out_trade_no: tradeNumbers('MALCK')(), total_fee: 100, subject: 'checkout', type: 'goods' },
    });
    table = cases({
      paid,
      refund: refundNo,
      endpoint: endpoint.id,
      review: Number(review.id),
      token: made.json().data.checkout.token,
    });
  });
  afterAll(async () => {
    await signedApp?.close();
    await devApp?.close();
    await h?.close();
  });

  it('has a case for every kind of route, more than 80 in all', () => {
    expect(table.length).toBeGreaterThanOrEqual(80);
    const routes = new Set(table.map((c) => c.url.split('/').slice(0, 3).join('/')));
    for (const prefix of [
      '/api/payments',
      '/api/refunds',
      '/api/reviews',
      '/api/routes',
      '/api/checkouts',
      '/api/webhooks',
      '/notify/wxpay',
      '/checkout/',
      '/admin/reconcile',
      '/admin/stats',
    ])
      expect([...routes].some((route) => route.startsWith(prefix.replace(/\/$/, '')))).toBe(true);
  });

  for (const mode of ['signed', 'unsigned development'] as const) {
    it(`answers each in the envelope with its status and code and changes nothing (${mode})`, async () => {
      const app = mode === 'signed' ? signedApp : devApp;
      const before = await snapshot();
      const wrong: string[] = [];
      for (const c of table) {
        const label = `${c.method} ${c.url.slice(0, 80)} ${String(typeof c.body === 'string' ? c.body : JSON.stringify(c.body)).slice(0, 80)}`;
        const response = await app.inject(
          rawInject(c, mode === 'signed' && c.url.startsWith('/api/') ? API_APP : undefined),
        );
        let body: {
          code?: unknown;
          msg?: unknown;
          action?: unknown;
          requestId?: unknown;
          field?: unknown;
          details?: { problems?: { field: string }[] };
        } = {};
        try {
          body = response.json();
        } catch {
          wrong.push(`${label}: not JSON: ${response.body.slice(0, 120)}`);
          continue;
        }
        const fields = (body.details?.problems ?? []).map((p) => p.field);
        const ok =
          response.statusCode === c.status &&
          body.code === c.code &&
          typeof body.msg === 'string' &&
          typeof body.action === 'string' &&
          typeof body.requestId === 'string' &&
          (c.field === undefined || body.field === c.field) &&
          (c.problems ?? []).every((field) => fields.includes(field)) &&
          !/FST_|statusCode|"error":|at .*\.ts:\d+/.test(response.body);
        if (!ok) wrong.push(`${label}: ${response.statusCode} ${response.body.slice(0, 300)}`);
      }
      expect(wrong).toEqual([]);
      expect(await snapshot()).toEqual(before);
    });
  }
});
