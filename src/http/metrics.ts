/**
 * Prometheus metrics of one service instance: requests, gateway latency (by route and side of a
 * gray release too), callbacks, orders by status.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { VkPay } from '../vk-pay.ts';

export interface ServiceMetrics {
  registry: Registry;
  requests: Counter<'method' | 'route' | 'status'>;
  gatewayLatency: Histogram<'provider' | 'operation' | 'result' | 'route' | 'variant'>;
  callbacks: Counter<'provider' | 'outcome'>;
  /** Callbacks rejected before anything was applied (forged, malformed, unknown): not payment errors. */
  callbacksRejected: Counter<'provider' | 'reason'>;
}

export function createMetrics(vkPay: VkPay): ServiceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'vkpay_' });
  const requests = new Counter({
    name: 'vkpay_http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const gatewayLatency = new Histogram({
    name: 'vkpay_gateway_call_seconds',
    help: 'Gateway call latency by provider and operation, and by gray release route and side (none: no configured route chose the order)',
    labelNames: ['provider', 'operation', 'result', 'route', 'variant'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
    registers: [registry],
  });
  const callbacks = new Counter({
    name: 'vkpay_callbacks_total',
    help: 'Gateway callbacks by outcome',
    labelNames: ['provider', 'outcome'] as const,
    registers: [registry],
  });
  const callbacksRejected = new Counter({
    name: 'vkpay_callback_rejected_total',
    help: 'Gateway callbacks rejected unapplied, by reason (signature, certificate, malformed, unknown_merchant, unknown_provider, rate_limited)',
    labelNames: ['provider', 'reason'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'vkpay_orders',
    help: 'Orders by status',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      const rows = await vkPay.store.db
        .selectFrom('payment_orders')
        .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
        .groupBy('status')
        .execute();
      this.reset();
      for (const row of rows) this.set({ status: row.status }, Number(row.n));
    },
  });
  new Gauge({
    name: 'vkpay_webhook_deliveries',
    help: 'Webhook deliveries by status (PENDING and DELIVERING are still to arrive; FAILED exhausted its retries)',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      const rows = await vkPay.store.db
        .selectFrom('webhook_deliveries')
        .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
        .where('status', 'in', ['PENDING', 'DELIVERING', 'FAILED'])
        .groupBy('status')
        .execute();
      this.reset();
      for (const status of ['PENDING', 'DELIVERING', 'FAILED']) this.set({ status }, 0);
      for (const row of rows) this.set({ status: row.status }, Number(row.n));
    },
  });
  new Gauge({
    name: 'vkpay_webhook_oldest_due_seconds',
    help: 'Age of the oldest webhook delivery that is due and not yet delivered (0: none): the delivery lag',
    registers: [registry],
    async collect() {
      const row = await vkPay.store.db
        .selectFrom('webhook_deliveries')
        .select((eb) => eb.fn.min('next_attempt_at').as('oldest'))
        .where('status', '=', 'PENDING')
        .where('next_attempt_at', '<=', new Date())
        .executeTakeFirst();
      const oldest = row?.oldest ? new Date(row.oldest as Date).getTime() : null;
      this.set(oldest === null ? 0 : Math.max((Date.now() - oldest) / 1000, 0));
    },
  });
  return { registry, requests, gatewayLatency, callbacks, callbacksRejected };
}

/**
 * The route and variant labels of a gateway call: only route ids the config file has and the two
 * sides, so an order of a route since removed cannot grow the metrics; 'none' otherwise.
 */
export function routeLabels(
  configured: ReadonlySet<string>,
  call: { route: string | null; variant: string | null },
): { route: string; variant: string } {
  if (call.route === null || !configured.has(call.route)) return { route: 'none', variant: 'none' };
  return {
    route: call.route,
    variant: call.variant === 'stable' || call.variant === 'canary' ? call.variant : 'none',
  };
}
