/**
 * `vk-pay listen` as a developer runs it: the service on its first-run defaults, a backend on this
 * machine that verifies each delivery with the independent `standardwebhooks` package and the
 * secret listen printed, and the command itself as a child process, stopped by a signal.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseListenArgs } from '../../src/cli/listen.ts';
import { type RunningService, serve } from '../../src/cli/serve.ts';
import { loadServiceConfig } from '../../src/config/service-config.ts';
import { API_APP, eventually, MERCHANT, startWxpayHarness, type WxpayHarness } from '../e2e/harness.ts';
import { backends } from '../support/backends.ts';
import { signed } from '../support/signed-client.ts';

const bin = join(import.meta.dirname, '../../bin/vk-pay.mjs');

interface Delivery {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  verified: boolean;
  json: any;
}

/** The developer's backend: verifies with the secret it is given, answers `status`. */
interface Backend {
  url: string;
  secret: string;
  status: number;
  received: Delivery[];
  close(): Promise<void>;
}

async function listenOn(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

async function startBackend(): Promise<Backend> {
  const backend: Backend = { url: '', secret: '', status: 200, received: [], close: async () => {} };
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    let verified = false;
    try {
      new Webhook(backend.secret).verify(body, {
        'webhook-id': String(request.headers['webhook-id']),
        'webhook-timestamp': String(request.headers['webhook-timestamp']),
        'webhook-signature': String(request.headers['webhook-signature']),
      });
      verified = true;
    } catch {
      // Recorded as not verified.
    }
    backend.received.push({
      path: request.url ?? '',
      headers: request.headers,
      body,
      verified,
      json: JSON.parse(body),
    });
    response.writeHead(verified ? backend.status : 400, { 'content-type': 'text/plain' });
    response.end(verified ? `backend answered ${backend.status}` : 'bad signature');
  });
  backend.url = `http://127.0.0.1:${await listenOn(server)}`;
  backend.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return backend;
}

interface Listening {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  /** Waits for the startup lines: the endpoint and its secret. */
  started: Promise<{ endpointId: string; secret: string }>;
  exited: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

function runListen(args: string[], env: Record<string, string> = {}): Listening {
  const child = spawn(process.execPath, [bin, 'listen', ...args], {
    env: { ...process.env, VKPAY_APP_ID: '', VKPAY_APP_SECRET: '', ...env },
  });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  const started = new Promise<{ endpointId: string; secret: string }>((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      const endpoint = /endpoint (we_[0-9a-f]+)/.exec(stdout);
      const secret = /secret\s+(whsec_\S+)/.exec(stdout);
      if (endpoint && secret) resolve({ endpointId: endpoint[1]!, secret: secret[1]! });
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    void exited.then(({ code }) => reject(new Error(`listen exited (${code}) before it started: ${stderr}`)));
  });
  started.catch(() => {});
  return { child, stdout: () => stdout, started, exited };
}

async function freePort(): Promise<number> {
  const server = createServer();
  const port = await listenOn(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('vk-pay listen against the first-run service', () => {
  let service: RunningService;
  let dir: string;
  let backend: Backend;
  let running: Listening | null = null;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vkpay-listen-'));
    const config = loadServiceConfig({
      env: { VKPAY_PORT: '0', VKPAY_DATA_DIR: join(dir, 'data') },
      cwd: dir,
    });
    service = await serve({ ...config, syncIntervalMs: 0 }, pino({ level: 'silent' }));
    backend = await startBackend();
  });
  afterEach(async () => {
    if (running && running.child.exitCode === null) running.child.kill('SIGKILL');
    running = null;
  });
  afterAll(async () => {
    await backend?.close();
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

  async function payVip(outTradeNo: string) {
    const created = await call('POST', '/api/payments', {
      provider: 'wxpay',
      scene: 'native',
      out_trade_no: outTradeNo,
      total_fee: 1,
      subject: 'listen test',
      type: 'vip',
    });
    expect(created.json.code).toBe(0);
    const paid = await call('POST', `/sandbox/wxpay/sandbox/trades/1900000109/${outTradeNo}/pay`);
    expect(paid.status).toBe(200);
  }

  it('forwards a verified payment.succeeded whose 200 completes the order, and disables its endpoint on SIGTERM', async () => {
    // Only vip orders: the demo merchant's built-in receiver (the default endpoint) stays out of it,
    // so the order can complete only through the backend's answer.
    running = runListen(['--url', service.url, '--forward-to', `${backend.url}/hooks`, '--types', 'vip']);
    const { endpointId, secret } = await running.started;
    backend.secret = secret;
    backend.status = 200;

    await payVip('LISTEN0001');
    const done = await call('GET', '/api/payments/LISTEN0001?await_notify=true&await_max_time=10');
    expect(done.json.data).toMatchObject({ orderPaid: true, user_order_success: true });

    const mine = backend.received.filter((d) => d.json.data?.order?.out_trade_no === 'LISTEN0001');
    expect(mine).toHaveLength(1);
    const delivery = mine[0]!;
    expect(delivery).toMatchObject({ path: '/hooks', verified: true, json: { type: 'payment.succeeded' } });
    expect(delivery.headers['content-type']).toBe('application/json');
    const events = await call('GET', '/api/webhooks/events?out_trade_no=LISTEN0001');
    const event = events.json.data.events[0];
    expect(event).toMatchObject({
      type: 'payment.succeeded',
      deliveries: [{ endpoint_id: endpointId, status: 'DELIVERED', attempts: 1, last_status_code: 200 }],
    });
    expect(delivery.headers['webhook-id']).toBe(event.id);
    const detail = await call('GET', `/api/webhooks/events/${event.id}`);
    expect(JSON.parse(delivery.body)).toEqual(detail.json.data.event);
    expect(detail.json.data.deliveries[0].attempt_log[0]).toMatchObject({
      ok: true,
      status_code: 200,
      response_excerpt: 'backend answered 200',
    });
    await eventually(
      async () => running!.stdout(),
      (out) => out.includes('LISTEN0001'),
    );
    expect(running.stdout()).toMatch(
      new RegExp(`\\d{4}-\\d\\d-\\d\\dT\\S+Z  payment\\.succeeded  ${event.id}  LISTEN0001  -> 200`),
    );

    running.child.kill('SIGTERM');
    const exit = await running.exited;
    expect(exit.code).toBe(0);
    expect(exit.stdout).toContain(`disabled endpoint ${endpointId}`);
    const endpoint = await call('GET', `/api/webhooks/endpoints/${endpointId}`);
    expect(endpoint.json.data.endpoint).toMatchObject({ id: endpointId, enabled: false });
  });

  it('answers VK-Pay with the backend’s 500, so the attempt is recorded failed and the order waits', async () => {
    running = runListen(['--url', service.url, '--forward-to', `${backend.url}/hooks`, '--types', 'vip']);
    const { endpointId, secret } = await running.started;
    backend.secret = secret;
    backend.status = 500;

    await payVip('LISTEN0002');
    const events = await eventually(
      () => call('GET', '/api/webhooks/events?out_trade_no=LISTEN0002'),
      (r) => (r.json.data.events[0]?.deliveries[0]?.last_status_code ?? null) !== null,
      10_000,
    );
    const event = events.json.data.events[0];
    expect(event.deliveries[0]).toMatchObject({
      endpoint_id: endpointId,
      status: 'PENDING',
      last_status_code: 500,
    });
    const detail = await call('GET', `/api/webhooks/events/${event.id}`);
    expect(detail.json.data.deliveries[0].attempt_log[0]).toMatchObject({
      ok: false,
      status_code: 500,
      response_excerpt: 'backend answered 500',
      error: 'answered HTTP 500',
    });
    expect(backend.received.filter((d) => d.headers['webhook-id'] === event.id && d.verified)).toHaveLength(
      1,
    );
    const order = await call('GET', '/api/payments/LISTEN0002');
    expect(order.json.data).toMatchObject({ orderPaid: true, user_order_success: false });
    await eventually(
      async () => running!.stdout(),
      (out) => out.includes('LISTEN0002  -> 500'),
    );

    running.child.kill('SIGINT');
    expect((await running.exited).code).toBe(0);
    // Disabling the endpoint cancels the retry it still had to receive.
    const after = await call('GET', `/api/webhooks/events/${event.id}`);
    expect(after.json.data.deliveries[0]).toMatchObject({ endpoint_id: endpointId, status: 'CANCELLED' });
  });

  it('answers 502 when the backend is unreachable', async () => {
    running = runListen(['--url', service.url, '--forward-to', `http://127.0.0.1:${await freePort()}/hooks`]);
    const { endpointId } = await running.started;
    const ping = await call('POST', `/api/webhooks/endpoints/${endpointId}/ping`);
    expect(ping.json.data.delivery.attempt_log[0]).toMatchObject({ ok: false, status_code: 502 });
    await eventually(
      async () => running!.stdout(),
      (out) => out.includes('webhook.ping'),
    );
    expect(running.stdout()).toMatch(
      /webhook\.ping {2}evt_\w+ {2}- {2}-> 502 \(backend unreachable: ECONNREFUSED\)/,
    );
    running.child.kill('SIGTERM');
    expect((await running.exited).code).toBe(0);
  });

  it('refuses bad usage with exit code 2, before making an endpoint', async () => {
    const missing = await runListen(['--url', service.url]).exited;
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--forward-to URL is required');
    const endpoints = await call('GET', '/api/webhooks/endpoints');
    expect(endpoints.json.data.endpoints.filter((e: { enabled: boolean }) => e.enabled)).toHaveLength(1);
  });
});

describe('vk-pay listen arguments', () => {
  const forwardTo = 'http://127.0.0.1:4000/hooks';
  it('reads the flags, with or without =', () => {
    expect(
      parseListenArgs(
        [
          `--forward-to=${forwardTo}`,
          '--url',
          'http://127.0.0.1:3000/',
          '--merchant',
          'shop1',
          '--types',
          'vip, recharge',
          '--events=payment.succeeded',
        ],
        {},
      ),
    ).toEqual({
      forwardTo,
      serviceUrl: 'http://127.0.0.1:3000',
      merchant: 'shop1',
      orderTypes: ['vip', 'recharge'],
      events: ['payment.succeeded'],
      app: null,
    });
    expect(
      parseListenArgs(['--forward-to', forwardTo], { VKPAY_APP_ID: 'a', VKPAY_APP_SECRET: 's' }),
    ).toMatchObject({
      serviceUrl: 'http://127.0.0.1:3000',
      orderTypes: null,
      events: null,
      app: { appId: 'a', secret: 's' },
    });
  });

  it('names the problem of a bad command line', () => {
    const problem = (args: string[], env: NodeJS.ProcessEnv = {}) =>
      (parseListenArgs(args, env) as { problem?: string }).problem;
    expect(problem([])).toContain('--forward-to URL is required');
    expect(problem(['--forward-to', 'ftp://x'])).toContain('--forward-to must be an http(s) URL');
    expect(problem(['--forward-to', forwardTo, '--types', 'VIP!'])).toContain(
      '--types must list order types',
    );
    expect(problem(['--forward-to', forwardTo, '--events', 'payment.paid'])).toContain(
      '--events must list some of',
    );
    expect(problem(['--forward-to', forwardTo, '--port', '1'])).toBe('unknown argument: --port');
    expect(problem(['--forward-to'])).toBe('--forward-to needs a value');
    expect(problem(['--forward-to', forwardTo], { VKPAY_APP_ID: 'a' })).toContain('VKPAY_APP_SECRET');
  });
});

describe('vk-pay listen against a service that requires signatures', () => {
  let h: WxpayHarness;
  let backend: Backend;
  beforeAll(async () => {
    h = await startWxpayHarness(backends[0]!);
    h.vkPay.startWebhookDelivery();
    backend = await startBackend();
  });
  afterAll(async () => {
    await backend?.close();
    await h?.close();
  });

  it('signs its requests with VKPAY_APP_ID and VKPAY_APP_SECRET', async () => {
    const url = h.vkPay.context.publicUrl;
    const running = runListen(
      ['--url', url, '--merchant', MERCHANT, '--forward-to', `${backend.url}/hooks`],
      {
        VKPAY_APP_ID: API_APP.appId,
        VKPAY_APP_SECRET: API_APP.secret,
      },
    );
    const { endpointId, secret } = await running.started;
    backend.secret = secret;
    const ping = await h.app.inject(signed(API_APP, 'POST', `/api/webhooks/endpoints/${endpointId}/ping`));
    expect(ping.json().data.delivery.attempt_log[0]).toMatchObject({ ok: true, status_code: 200 });
    expect(backend.received.at(-1)).toMatchObject({ verified: true, json: { type: 'webhook.ping' } });

    running.child.kill('SIGTERM');
    expect((await running.exited).code).toBe(0);
    const endpoint = await h.vkPay.getWebhookEndpoint(MERCHANT, endpointId);
    expect(endpoint.enabled).toBe(false);
  });

  it('exits 2 when the service refuses the signature', async () => {
    const before = (await h.vkPay.listWebhookEndpoints(MERCHANT)).length;
    const refused = await runListen(['--url', h.vkPay.context.publicUrl, '--forward-to', backend.url], {
      VKPAY_APP_ID: API_APP.appId,
      VKPAY_APP_SECRET: 'y'.repeat(40),
    }).exited;
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/VK-Pay refused POST \/api\/webhooks\/endpoints: .*\(code 40002\)/);
    expect(await h.vkPay.listWebhookEndpoints(MERCHANT)).toHaveLength(before);
  });
});
