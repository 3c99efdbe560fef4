/**
 * The service under HTTP load (autocannon, 127.0.0.1), each server in its own process:
 * createPayment per second with the WeChat Pay emulator in another process; cached queryPayment per
 * second beside a bare Fastify route; callbacks applied per second (PostgreSQL, and PGlite beside
 * it); p50/p99 latency and the service's peak RSS in each phase.
 */

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dropSchema } from '../src/store/db.ts';
import { type Child, startChild, watchPeakRss } from './support/children.ts';
import {
  type BenchWxpayMerchant,
  type Emulators,
  newWxpayMerchantKeys,
  postJson,
  registerWxpayMerchant,
} from './support/emulators.ts';
import { type HttpLoadResult, httpLoad, numberedRequests } from './support/http-load.ts';
import {
  type BenchGatewayKey,
  newGatewayKey,
  paymentNotification,
  seededOrder,
} from './support/wxpay-notifications.ts';

export interface ServiceBenchOptions {
  emulators: Emulators;
  /** PostgreSQL for the main run; null runs everything on PGlite. */
  databaseUrl: string | null;
  createRequests: number;
  queryDurationSeconds: number;
  callbacks: number;
  connections: number;
}

export interface PhaseResult {
  backend: string;
  load: HttpLoadResult;
  /** The measured process's peak RSS over the phase, MB. */
  peakRssMb: number;
}

export interface CallbackResult extends PhaseResult {
  /** The measured run's order numbers start with it. */
  prefix: string;
  notifications: number;
  applied: number;
  appliedPerSecond: number;
}

export interface ServiceBenchResult {
  /** The service process's RSS once it is ready, before any load, MB. */
  idleRssMb: number;
  /** The same for the service on PGlite (the embedded default), when it ran. */
  embeddedIdleRssMb: number | null;
  createPayment: PhaseResult;
  cachedQuery: PhaseResult;
  bareRoute: PhaseResult;
  /** Cached queries per second over the bare route's. */
  queryRatio: number;
  /** A bare route sending the same answer: how much of the gap is VK-Pay's work, not bytes. */
  bareSameAnswer: PhaseResult;
  sameAnswerRatio: number;
  callbacks: CallbackResult[];
}

/** The merchant API app, and the merchant whose callbacks the bench signs itself. */
const API_MERCHANT = 'bench';
export const CALLBACK_MERCHANT = 'benchcb';
export type ServiceChild = Child<{ url: string }>;

/** The service's config file; `extra` adds top-level sections (the webhook bench's `webhooks`). */
export function writeConfig(
  dir: string,
  wxpayUrl: string,
  api: BenchWxpayMerchant,
  callback: BenchWxpayMerchant,
  extra: Record<string, unknown> = {},
): string {
  const merchant = (merchantId: string, keys: BenchWxpayMerchant) => ({
    merchantId,
    mchId: keys.mchId,
    appId: keys.appId,
    serialNo: keys.serialNo,
    privateKey: keys.privateKeyPem,
    apiV3Key: keys.apiV3Key,
    wechatpayPublicKey: keys.wechatpayPublicKey,
    baseUrl: wxpayUrl,
    timeoutMs: 10_000,
  });
  const path = join(dir, 'vk-pay.bench.json');
  writeFileSync(
    path,
    JSON.stringify({
      env: 'development',
      // Unsigned merchant requests and no rate limits (development's defaults, said explicitly): the
      // figure is the service's cost per request, not its rate limiter's answer.
      security: { requireSignature: false, rateLimitsEnabled: false },
      apps: [{ appId: 'bench-app', merchantId: API_MERCHANT, secret: 'b'.repeat(40) }],
      wxpay: [merchant(API_MERCHANT, api), merchant(CALLBACK_MERCHANT, callback)],
      ...extra,
    }),
  );
  return path;
}

/**
 * The service on PostgreSQL (`databaseUrl`), or on PGlite in `dataDir`, a data folder like the
 * embedded default's `./data`.
 */
export async function startService(
  configPath: string,
  store: { databaseUrl: string; schema: string } | { dataDir: string },
) {
  return startChild<{ url: string }>({
    // BENCH_SERVICE_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", to see where the time goes.
    args: [
      ...(process.env.BENCH_SERVICE_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
      // Compiled as `vk-pay` runs in production: plain Node, no TypeScript loader in its memory.
      'bin/bundle.mjs',
      'bench/service-process.ts',
    ],
    readyMsg: 'VK-Pay bench service ready',
    ipc: true,
    env: {
      VKPAY_CONFIG: configPath,
      VKPAY_ENV: 'development',
      VKPAY_HOST: '127.0.0.1',
      VKPAY_PORT: '0',
      VKPAY_PUBLIC_URL: undefined,
      VKPAY_SANDBOX: 'false',
      VKPAY_LOG_LEVEL: process.env.BENCH_SERVICE_LOG_LEVEL ?? 'warn',
      DATABASE_URL: 'databaseUrl' in store ? store.databaseUrl : undefined,
      VKPAY_DATA_DIR: 'dataDir' in store ? store.dataDir : undefined,
      REDIS_URL: undefined,
      BENCH_SCHEMA: 'schema' in store ? store.schema : undefined,
    },
  });
}

function checkLoad(what: string, load: HttpLoadResult): void {
  if (load.non2xx > 0 || load.errors > 0)
    throw new Error(`${what}: ${load.non2xx} non-2xx answers and ${load.errors} connection errors`);
}

async function measured(child: { pid: number }, backend: string, run: () => Promise<HttpLoadResult>) {
  const rss = watchPeakRss(child.pid);
  const load = await run();
  return { backend, load, peakRssMb: rss.stop() };
}

async function createPaymentPhase(service: ServiceChild, backend: string, options: ServiceBenchOptions) {
  const run = randomBytes(3).toString('hex');
  const load = (prefix: string, amount: number) =>
    httpLoad({
      url: service.ready.url,
      connections: options.connections,
      amount,
      headers: { 'content-type': 'application/json' },
      requests: numberedRequests('POST', '/api/payments', (i) => ({
        body: JSON.stringify({
          provider: 'wxpay',
          scene: 'native',
          out_trade_no: `${prefix}${run}${i.toString().padStart(7, '0')}`,
          total_fee: 100 + (i % 1000),
          subject: 'bench createPayment',
          type: 'recharge',
        }),
      })),
    });
  checkLoad('createPayment warm-up', await load('W', Math.min(100, options.createRequests)));
  const phase = await measured(service, backend, () => load('P', options.createRequests));
  checkLoad('createPayment', phase.load);
  return phase;
}

async function paidOrder(service: ServiceChild, emulators: Emulators, mchId: string): Promise<string> {
  const outTradeNo = `Q${randomBytes(4).toString('hex')}`;
  await postJson(`${service.ready.url}/api/payments`, {
    provider: 'wxpay',
    scene: 'native',
    out_trade_no: outTradeNo,
    total_fee: 888,
    subject: 'bench cached query',
    type: 'recharge',
  });
  // The emulator pays it and calls the service back, as WeChat Pay would.
  await postJson(`${emulators.wxpayUrl}/sandbox/trades/${mchId}/${outTradeNo}/pay`, {});
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const answer = (await (await fetch(`${service.ready.url}/api/payments/${outTradeNo}`)).json()) as {
      data?: { orderPaid?: boolean };
    };
    if (answer.data?.orderPaid) return outTradeNo;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`order ${outTradeNo} was not paid within 15 s of the emulator's notification`);
}

async function cachedQueryPhase(
  service: ServiceChild,
  bare: Child<{ url: string }>,
  backend: string,
  outTradeNo: string,
  options: ServiceBenchOptions,
) {
  const settings = { connections: options.connections };
  const serviceUrl = `${service.ready.url}/api/payments/${outTradeNo}`;
  const bareUrl = `${bare.ready.url}/bare/${outTradeNo}`;
  checkLoad('bare route warm-up', await httpLoad({ ...settings, url: bareUrl, amount: 2_000 }));
  checkLoad('cached query warm-up', await httpLoad({ ...settings, url: serviceUrl, amount: 2_000 }));
  const bareRoute = await measured(bare, 'fastify', () =>
    httpLoad({ ...settings, url: bareUrl, duration: options.queryDurationSeconds }),
  );
  checkLoad('bare route', bareRoute.load);
  const sameAnswerUrl = `${bare.ready.url}/bare-same/${outTradeNo}`;
  const bareSameAnswer = await measured(bare, 'fastify', () =>
    httpLoad({ ...settings, url: sameAnswerUrl, duration: options.queryDurationSeconds }),
  );
  checkLoad('bare route, same answer', bareSameAnswer.load);
  const cachedQuery = await measured(service, backend, () =>
    httpLoad({ ...settings, url: serviceUrl, duration: options.queryDurationSeconds }),
  );
  checkLoad('cached query', cachedQuery.load);
  return { bareRoute, bareSameAnswer, cachedQuery };
}

export async function callbacksPhase(
  service: ServiceChild,
  backend: string,
  merchant: BenchWxpayMerchant,
  gatewayKey: BenchGatewayKey,
  options: Pick<ServiceBenchOptions, 'callbacks' | 'connections'>,
): Promise<CallbackResult> {
  const run = randomBytes(3).toString('hex');
  const send = async (prefix: string, count: number) => {
    await service.ask({
      type: 'seed',
      merchantId: CALLBACK_MERCHANT,
      mchId: merchant.mchId,
      appId: merchant.appId,
      prefix,
      count,
    });
    const now = Date.now();
    const notifications = Array.from({ length: count }, (_, i) =>
      paymentNotification(gatewayKey, merchant, seededOrder(prefix, i), now),
    );
    const phase = await measured(service, backend, () =>
      httpLoad({
        url: service.ready.url,
        connections: options.connections,
        amount: count,
        requests: numberedRequests(
          'POST',
          `/notify/wxpay/${CALLBACK_MERCHANT}`,
          (i) => notifications[i % count]!,
        ),
      }),
    );
    checkLoad(`callbacks on ${backend}`, phase.load);
    const statuses = await service.ask<Record<string, number>>({
      type: 'count',
      merchantId: CALLBACK_MERCHANT,
      prefix,
    });
    const applied = statuses.SUCCESS ?? 0;
    if (applied !== count)
      throw new Error(
        `callbacks on ${backend}: ${applied} of ${count} orders paid (${JSON.stringify(statuses)})`,
      );
    return {
      ...phase,
      prefix,
      notifications: count,
      applied,
      appliedPerSecond: applied / phase.load.seconds,
    };
  };
  await send(`W${run}`, Math.min(100, options.callbacks));
  return send(`C${run}`, options.callbacks);
}

/** The callback merchant trusts a gateway key the bench holds, so the bench can sign its callbacks. */
export function newCallbackMerchant(): { gatewayKey: BenchGatewayKey; callbackMerchant: BenchWxpayMerchant } {
  const gatewayKey = newGatewayKey();
  const { publicKeyPem: _unused, ...callbackKeys } = newWxpayMerchantKeys();
  return {
    gatewayKey,
    callbackMerchant: {
      ...callbackKeys,
      wechatpayPublicKey: { id: gatewayKey.id, pem: gatewayKey.publicKeyPem },
    },
  };
}

export async function benchService(options: ServiceBenchOptions): Promise<ServiceBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'vk-pay-bench-'));
  const apiMerchant = await registerWxpayMerchant(options.emulators.wxpayUrl);
  const { gatewayKey, callbackMerchant } = newCallbackMerchant();
  const configPath = writeConfig(dir, options.emulators.wxpayUrl, apiMerchant, callbackMerchant);
  const backend = options.databaseUrl ? 'postgres' : 'pglite';
  const schema = options.databaseUrl ? `bench_${randomBytes(4).toString('hex')}` : null;
  const children: Child<unknown>[] = [];
  try {
    const bare = await startChild<{ url: string }>({
      args: ['bin/bundle.mjs', 'bench/bare-fastify.ts'],
      readyMsg: 'bare fastify ready',
    });
    children.push(bare);
    const service = await startService(
      configPath,
      options.databaseUrl && schema
        ? { databaseUrl: options.databaseUrl, schema }
        : { dataDir: join(dir, 'data-main') },
    );
    children.push(service);
    const idleRssMb = watchPeakRss(service.pid).stop();

    const createPayment = await createPaymentPhase(service, backend, options);
    const outTradeNo = await paidOrder(service, options.emulators, apiMerchant.mchId);
    const { bareRoute, bareSameAnswer, cachedQuery } = await cachedQueryPhase(
      service,
      bare,
      backend,
      outTradeNo,
      options,
    );
    const callbacks = [await callbacksPhase(service, backend, callbackMerchant, gatewayKey, options)];
    await service.stop();
    let embeddedIdleRssMb: number | null = null;
    if (options.databaseUrl) {
      // PGlite beside PostgreSQL: the embedded default, in a fresh process.
      const embedded = await startService(configPath, { dataDir: join(dir, 'data') });
      children.push(embedded);
      embeddedIdleRssMb = watchPeakRss(embedded.pid).stop();
      callbacks.push(await callbacksPhase(embedded, 'pglite', callbackMerchant, gatewayKey, options));
      await embedded.stop();
    }
    return {
      idleRssMb,
      embeddedIdleRssMb,
      createPayment,
      cachedQuery,
      bareRoute,
      queryRatio: cachedQuery.load.perSecond / bareRoute.load.perSecond,
      bareSameAnswer,
      sameAnswerRatio: cachedQuery.load.perSecond / bareSameAnswer.load.perSecond,
      callbacks,
    };
  } finally {
    for (const child of children) await child.stop();
    if (options.databaseUrl && schema) await dropSchema(options.databaseUrl, schema);
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  }
}
