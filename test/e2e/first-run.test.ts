import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningService, serve } from '../../src/cli/serve.ts';
import { loadServiceConfig } from '../../src/config/service-config.ts';
import { eventually } from './harness.ts';

describe('the first run, as the README walks it', () => {
  let service: RunningService;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vkpay-first-'));
    const config = loadServiceConfig({
      env: { VKPAY_PORT: '0', VKPAY_DATA_DIR: join(dir, 'data') },
      cwd: dir,
    });
    service = await serve({ ...config, syncIntervalMs: 0 }, pino({ level: 'silent' }));
  });
  afterAll(async () => {
    await service?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const call = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
    const response = await fetch(`${service.url}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    return { status: response.status, json: (await response.json()) as any };
  };

  it('creates, pays, receives the callback, queries and refunds with curl-like calls', async () => {
    expect(service.demo?.merchantId).toBe('demo');
    const created = await call('POST', '/api/payments', {
      provider: 'wxpay',
      scene: 'native',
      out_trade_no: 'FIRST0001',
      total_fee: 1,
      subject: 'first payment',
      type: 'goods',
    });
    expect(created.json).toMatchObject({
      code: 0,
      data: { order: { status: 'NOTPAY' }, payment: { codeUrl: expect.any(String) } },
    });

    expect((await call('POST', '/sandbox/wxpay/sandbox/trades/1900000109/FIRST0001/pay')).status).toBe(200);
    const paid = await eventually(
      () => call('GET', '/api/payments/FIRST0001'),
      (r) => r.json.data?.orderPaid === true,
    );
    expect(paid.json.data).toMatchObject({ orderPaid: true, order: { status: 'SUCCESS' } });
    // The demo merchant's backend is the built-in receiver: once it acknowledges the webhook, the
    // order's business is done. await_notify waits for exactly that.
    const done = await call('GET', '/api/payments/FIRST0001?await_notify=true&await_max_time=10');
    expect(done.json.data).toMatchObject({ orderPaid: true, user_order_success: true });
    const received = await call('GET', '/sandbox/webhooks/events');
    const event = received.json.events.find(
      (e: { type: string; outTradeNo: string }) =>
        e.type === 'payment.succeeded' && e.outTradeNo === 'FIRST0001',
    );
    expect(event).toMatchObject({
      verified: true,
      answered: 200,
      body: { data: { order: { status: 'SUCCESS' } } },
    });
    const page = await fetch(`${service.url}/sandbox/webhooks/`);
    expect(await page.text()).toContain('FIRST0001');
    const events = await call('GET', '/api/webhooks/events?out_trade_no=FIRST0001');
    expect(events.json.data.events[0]).toMatchObject({
      type: 'payment.succeeded',
      deliveries: [{ endpoint_id: 'demo-receiver', status: 'DELIVERED' }],
    });

    const refund = await call('POST', '/api/refunds', {
      out_trade_no: 'FIRST0001',
      out_refund_no: 'FIRST0001-R1',
      refund_fee: 1,
    });
    expect(refund.json).toMatchObject({ code: 0, data: { refund: { status: 'PROCESSING' } } });
    await call('POST', '/sandbox/wxpay/sandbox/refunds/1900000109/FIRST0001-R1/succeed');
    const settled = await eventually(
      () => call('GET', '/api/refunds/FIRST0001-R1'),
      (r) => r.json.data?.refund?.status === 'SUCCESS',
    );
    expect(settled.json.data).toMatchObject({
      refund: { status: 'SUCCESS' },
      order: { status: 'REFUNDED', refunded_fee: 1 },
    });
  });

  it('takes an Alipay QR payment the same way', async () => {
    const created = await call('POST', '/api/payments', {
      provider: 'alipay',
      scene: 'native',
      out_trade_no: 'FIRST0002',
      total_fee: 8880,
      subject: 'first alipay',
      type: 'goods',
    });
    expect(created.json, JSON.stringify(created.json)).toMatchObject({
      code: 0,
      data: { payment: { codeUrl: expect.stringContaining('/sandbox/alipay/') } },
    });
    const trade = '/sandbox/alipay/sandbox/alipay/trades/2021000000000001/FIRST0002';
    expect((await call('POST', `${trade}/scan`)).status).toBe(200);
    expect((await call('POST', `${trade}/pay`)).status).toBe(200);
    const paid = await eventually(
      () => call('GET', '/api/payments/FIRST0002'),
      (r) => r.json.data?.orderPaid === true,
    );
    expect(paid.json.data.order).toMatchObject({ status: 'SUCCESS', total_fee: 8880, provider: 'alipay' });
  });

  it('answers a client mistake with its code, never a 5xx', async () => {
    const bad = await call('POST', '/api/payments', {
      provider: 'wxpay',
      out_trade_no: 'x',
      total_fee: 1.5,
      subject: 'x',
      type: 'goods',
    });
    expect(bad.status).toBe(400);
    expect(bad.json.code).toBe(40001);
    const missing = await call('GET', '/api/payments/NOSUCHORDER');
    expect(missing.status).toBe(404);
    expect(missing.json.code).toBe(40005);
  });
});
