/**
 * Background reconciliation: unpaid orders are asked about at the gateway (so a lost callback heals
 * without anyone querying), and expired ones are closed there. With many instances, one cache lock
 * per tick keeps them from doing the same work at once; the work itself is idempotent anyway.
 */
import { isPayError } from '../core/errors.ts';
import type { ServiceContext } from './context.ts';
import { closePayment, queryPayment } from './payment-flow.ts';

export interface SyncJobOptions {
  /** Orders younger than this are left to their callback. */
  minAgeMs: number;
  /** Orders older than this are no longer asked about (the gateway has closed them). */
  maxAgeMs: number;
  batchSize: number;
}

export const DEFAULT_SYNC_JOB: SyncJobOptions = { minAgeMs: 60_000, maxAgeMs: 48 * 3600_000, batchSize: 50 };

export interface SyncReport {
  checked: number;
  paid: number;
  closed: number;
  failed: number;
}

/** One pass over unpaid orders. Returns what it did; never throws for one order's failure. */
export async function syncUnpaidOrders(
  context: ServiceContext,
  options: SyncJobOptions = DEFAULT_SYNC_JOB,
): Promise<SyncReport> {
  const now = context.now();
  const report: SyncReport = { checked: 0, paid: 0, closed: 0, failed: 0 };
  const orders = await context.store.db
    .selectFrom('payment_orders')
    .select(['merchant_id', 'out_trade_no', 'expire_at'])
    .where('status', 'in', ['NOTPAY', 'USERPAYING'])
    .where('create_date', '<=', new Date(now.getTime() - options.minAgeMs))
    .where('create_date', '>=', new Date(now.getTime() - options.maxAgeMs))
    .where('provider', 'in', [...context.providers.keys(), ''])
    .orderBy('create_date')
    .limit(options.batchSize)
    .execute();
  for (const order of orders) {
    report.checked += 1;
    try {
      const answer = await queryPayment(context, order.merchant_id, order.out_trade_no);
      if (answer.orderPaid) {
        report.paid += 1;
      } else if (
        order.expire_at &&
        order.expire_at.getTime() <= now.getTime() &&
        answer.order.status !== 'CLOSED'
      ) {
        await closePayment(context, order.merchant_id, order.out_trade_no);
        report.closed += 1;
      } else if (answer.order.status === 'CLOSED') {
        report.closed += 1;
      }
    } catch (error) {
      report.failed += 1;
      context.logger.warn(
        { outTradeNo: order.out_trade_no, code: isPayError(error) ? error.code : 50000 },
        'order sync failed',
      );
    }
  }
  return report;
}

/** Runs syncUnpaidOrders every `intervalMs` on one instance at a time. Returns a stop function. */
export function startSyncJob(
  context: ServiceContext,
  intervalMs: number,
  options: SyncJobOptions = DEFAULT_SYNC_JOB,
): () => void {
  let running = false;
  const timer = setInterval(async () => {
    if (running) return;
    running = true;
    try {
      if (await context.cache.setIfAbsent('job:sync-unpaid', 1, Math.max(intervalMs - 100, 1000))) {
        const report = await syncUnpaidOrders(context, options);
        if (report.checked > 0) context.logger.info(report, 'unpaid orders synced');
      }
    } catch (error) {
      context.logger.error({ err: error }, 'order sync job failed');
    } finally {
      running = false;
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
