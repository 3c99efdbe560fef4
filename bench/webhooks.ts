/**
 * Merchant webhooks on PostgreSQL: the service in its own process (`serve()` as `vk-pay serve` runs
 * it, delivery worker included) with one endpoint in its config file, pointing at a receiver in the
 * bench process. Two figures: deliveries per second beside callbacks applied per second of the same
 * run, and the time from sending a callback to its event reaching the endpoint, with callbacks sent
 * at a fixed rate (open loop: a send never waits for an earlier answer).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { formatWebhookSecret } from '../src/core/webhooks.ts';
import { dropSchema } from '../src/store/db.ts';
import {
  CALLBACK_MERCHANT,
  type CallbackResult,
  callbacksPhase,
  newCallbackMerchant,
  type ServiceChild,
  startService,
  writeConfig,
} from './service.ts';
import { watchPeakRss } from './support/children.ts';
import { type BenchWxpayMerchant, registerWxpayMerchant } from './support/emulators.ts';
import { percentile } from './support/load.ts';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.ts';
import { type BenchGatewayKey, paymentNotification, seededOrder } from './support/wxpay-notifications.ts';

export interface WebhookBenchOptions {
  wxpayUrl: string;
  databaseUrl: string;
  /** Callbacks in the throughput run, sent as fast as `connections` allow. */
  callbacks: number;
  connections: number;
  /** Callbacks per second in the latency run, and for how many seconds. */
  rate: number;
  seconds: number;
}

export interface WebhookThroughput {
  callbacks: CallbackResult;
  /** From the first callback sent to the last event received, s. */
  drainSeconds: number;
  deliveriesPerSecond: number;
  /** Deliveries per second over callbacks applied per second. */
  ratio: number;
  /** Events received before the last callback was answered. */
  deliveredDuringCallbacks: number;
}

export interface WebhookLatency {
  rate: number;
  sent: number;
  /** The rate the sender kept: sends over the time from the first to the last. */
  sentPerSecond: number;
  /** The latest a send went out after its scheduled time, ms: the bench's own lag. */
  maxSendLagMs: number;
  /** The callbacks' answer times, ms. */
  callbackP50Ms: number;
  callbackP99Ms: number;
  /** From sending a callback to its event arriving at the endpoint, ms. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** From the callback's answer to its event's arrival, ms: the delivery's own share (below 0: first). */
  afterAnswerP50Ms: number;
  afterAnswerP99Ms: number;
}

export interface WebhookBenchResult {
  /** The service's RSS once it is ready, MB. */
  idleRssMb: number;
  /** Its peak RSS over the callbacks and the deliveries of both runs, MB. */
  peakRssMb: number;
  throughput: WebhookThroughput;
  latency: WebhookLatency;
  /** Events the receiver got more than once (delivery is at least once). */
  duplicates: number;
}

/** Bounds the wait for the last events; a worker this far behind is broken, not slow. */
const DRAIN_TIMEOUT_MS = 60_000;

async function throughputRun(
  service: ServiceChild,
  receiver: WebhookReceiver,
  merchant: BenchWxpayMerchant,
  gatewayKey: BenchGatewayKey,
  options: WebhookBenchOptions,
): Promise<WebhookThroughput & { drainPeakRssMb: number }> {
  const callbacks = await callbacksPhase(service, 'postgres', merchant, gatewayKey, options);
  const orders = Array.from(
    { length: callbacks.notifications },
    (_, i) => seededOrder(callbacks.prefix, i).outTradeNo,
  );
  const rss = watchPeakRss(service.pid);
  await receiver.waitFor(orders, DRAIN_TIMEOUT_MS);
  const drainPeakRssMb = rss.stop();
  const startedMs = callbacks.load.startedMs;
  const callbacksEndMs = startedMs + callbacks.load.seconds * 1000;
  let lastMs = startedMs;
  let deliveredDuringCallbacks = 0;
  for (const outTradeNo of orders) {
    const arrivedMs = receiver.arrivals.get(outTradeNo)!;
    lastMs = Math.max(lastMs, arrivedMs);
    if (arrivedMs <= callbacksEndMs) deliveredDuringCallbacks += 1;
  }
  const drainSeconds = (lastMs - startedMs) / 1000;
  const deliveriesPerSecond = orders.length / drainSeconds;
  return {
    callbacks,
    drainSeconds,
    deliveriesPerSecond,
    ratio: deliveriesPerSecond / callbacks.appliedPerSecond,
    deliveredDuringCallbacks,
    drainPeakRssMb,
  };
}

/** Sends `count` callbacks, the i-th at `i / rate` s, each as its time comes; returns when all answered. */
async function sendAtFixedRate(
  url: string,
  notifications: { headers: Record<string, string>; body: string }[],
  rate: number,
) {
  // Connections enough that a send never waits for a free one at this rate.
  const pool = new Pool(url, { connections: 64 });
  const count = notifications.length;
  const sentMs = new Float64Array(count);
  const answeredMs = new Float64Array(count);
  const failures: string[] = [];
  const answers: Promise<void>[] = [];
  const intervalMs = 1000 / rate;
  const firstMs = performance.now() + 5;
  let maxSendLagMs = 0;
  const send = (i: number) => {
    sentMs[i] = performance.now();
    maxSendLagMs = Math.max(maxSendLagMs, sentMs[i]! - (firstMs + i * intervalMs));
    const { headers, body } = notifications[i]!;
    answers.push(
      pool.request({ method: 'POST', path: `/notify/wxpay/${CALLBACK_MERCHANT}`, headers, body }).then(
        async (answer) => {
          answeredMs[i] = performance.now();
          await answer.body.dump();
          if (answer.statusCode >= 300) failures.push(`callback ${i} answered ${answer.statusCode}`);
        },
        (error: unknown) => {
          failures.push(`callback ${i}: ${String(error)}`);
        },
      ),
    );
  };
  try {
    await new Promise<void>((resolve) => {
      let next = 0;
      const tick = () => {
        while (next < count && firstMs + next * intervalMs <= performance.now()) send(next++);
        if (next < count) setTimeout(tick, Math.max(0, firstMs + next * intervalMs - performance.now()));
        else resolve();
      };
      setTimeout(tick, 5);
    });
    await Promise.all(answers);
  } finally {
    await pool.close();
  }
  if (failures.length > 0)
    throw new Error(`${failures.length} fixed-rate callbacks failed: ${failures.slice(0, 3).join('; ')}`);
  return { sentMs, answeredMs, maxSendLagMs };
}

async function latencyRun(
  service: ServiceChild,
  receiver: WebhookReceiver,
  merchant: BenchWxpayMerchant,
  gatewayKey: BenchGatewayKey,
  options: WebhookBenchOptions,
): Promise<WebhookLatency & { peakRssMb: number }> {
  const prefix = `L${randomBytes(3).toString('hex')}`;
  const count = options.rate * options.seconds;
  await service.ask({
    type: 'seed',
    merchantId: CALLBACK_MERCHANT,
    mchId: merchant.mchId,
    appId: merchant.appId,
    prefix,
    count,
  });
  const orders = Array.from({ length: count }, (_, i) => seededOrder(prefix, i));
  const now = Date.now();
  const notifications = orders.map((order) => paymentNotification(gatewayKey, merchant, order, now));
  const rss = watchPeakRss(service.pid);
  const { sentMs, answeredMs, maxSendLagMs } = await sendAtFixedRate(
    service.ready.url,
    notifications,
    options.rate,
  );
  await receiver.waitFor(
    orders.map((order) => order.outTradeNo),
    DRAIN_TIMEOUT_MS,
  );
  const peakRssMb = rss.stop();
  const latencies = Float64Array.from(
    orders,
    (order, i) => receiver.arrivals.get(order.outTradeNo)! - sentMs[i]!,
  ).sort();
  const answerTimes = answeredMs.map((answered, i) => answered - sentMs[i]!).sort();
  const afterAnswer = Float64Array.from(
    orders,
    (order, i) => receiver.arrivals.get(order.outTradeNo)! - answeredMs[i]!,
  ).sort();
  return {
    rate: options.rate,
    sent: count,
    sentPerSecond: count > 1 ? ((count - 1) * 1000) / (sentMs[count - 1]! - sentMs[0]!) : options.rate,
    maxSendLagMs,
    callbackP50Ms: percentile(answerTimes, 0.5),
    callbackP99Ms: percentile(answerTimes, 0.99),
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    maxMs: latencies[count - 1] ?? 0,
    afterAnswerP50Ms: percentile(afterAnswer, 0.5),
    afterAnswerP99Ms: percentile(afterAnswer, 0.99),
    peakRssMb,
  };
}

export async function benchWebhooks(options: WebhookBenchOptions): Promise<WebhookBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'vk-pay-bench-'));
  const secret = formatWebhookSecret(randomBytes(32));
  const receiver = await startWebhookReceiver(secret);
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  let service: ServiceChild | null = null;
  try {
    const apiMerchant = await registerWxpayMerchant(options.wxpayUrl);
    const { gatewayKey, callbackMerchant } = newCallbackMerchant();
    const configPath = writeConfig(dir, options.wxpayUrl, apiMerchant, callbackMerchant, {
      webhooks: {
        endpoints: [{ id: 'bench', merchantId: CALLBACK_MERCHANT, url: receiver.url, secret }],
      },
    });
    service = await startService(configPath, { databaseUrl: options.databaseUrl, schema });
    const idleRssMb = watchPeakRss(service.pid).stop();
    const { drainPeakRssMb, ...throughput } = await throughputRun(
      service,
      receiver,
      callbackMerchant,
      gatewayKey,
      options,
    );
    const { peakRssMb: latencyPeakRssMb, ...latency } = await latencyRun(
      service,
      receiver,
      callbackMerchant,
      gatewayKey,
      options,
    );
    receiver.check();
    return {
      idleRssMb,
      peakRssMb: Math.max(throughput.callbacks.peakRssMb, drainPeakRssMb, latencyPeakRssMb),
      throughput,
      latency,
      duplicates: receiver.duplicates(),
    };
  } finally {
    await service?.stop();
    await receiver.close();
    await dropSchema(options.databaseUrl, schema);
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  }
}
