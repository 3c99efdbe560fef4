/**
 * Background reconciliation: unpaid orders are asked about at the gateway (so a lost callback heals
 * without anyone querying), and expired ones are closed there; refunds left PROCESSING are asked
 * about too, and sent again when the gateway never got them. With many instances, one cache lock
 * per tick keeps them from doing the same work at once; the work itself is idempotent anyway.
 */
import { isPayError } from '../core/errors.ts';
import type { ServiceContext } from './context.ts';
import { closePayment, queryPayment } from './payment-flow.ts';
import { reconcileYesterday } from './reconcile.ts';
import { settlePendingRefund } from './refund-flow.ts';
import { recordReview } from './reviews.ts';
import { pruneWebhookHistory } from './webhook-ops.ts';

export interface SyncJobOptions {
  /** Orders younger than this are left to their callback. */
  minAgeMs: number;
  /** Orders older than this are no longer asked about (the gateway has closed them). */
  maxAgeMs: number;
  batchSize: number;
}

export const DEFAULT_SYNC_JOB: SyncJobOptions = { minAgeMs: 60_000, maxAgeMs: 48 * 3600_000, batchSize: 50 };

export interface RefundSyncOptions {
  /** Refunds changed more recently than this are left to their notification. */
  minAgeMs: number;
  /** Refunds older than this are left to people (a refund can take days through a bank, not months). */
  maxAgeMs: number;
  batchSize: number;
  /** The longest wait between two checks of one refund; younger refunds are checked more often. */
  maxBackoffMs: number;
}

export const DEFAULT_REFUND_SYNC: RefundSyncOptions = {
  minAgeMs: 60_000,
  maxAgeMs: 30 * 24 * 3600_000,
  batchSize: 50,
  maxBackoffMs: 3600_000,
};

export interface RefundSyncReport {
  checked: number;
  settled: number;
  resent: number;
  failed: number;
  /** Refunds past the window, sent to the review queue. */
  escalated: number;
}

/**
 * One pass over refunds left PROCESSING: each is asked about at the gateway (a lost REFUND.SUCCESS
 * heals) and sent again with the same number when the gateway never received it. A refund is
 * checked again after a tenth of its age (at least minAgeMs, at most maxBackoffMs), so one that
 * sits in a bank for days costs a query an hour, not one a tick.
 */
export async function syncPendingRefunds(
  context: ServiceContext,
  options: RefundSyncOptions = DEFAULT_REFUND_SYNC,
): Promise<RefundSyncReport> {
  const now = context.now().getTime();
  const report: RefundSyncReport = { checked: 0, settled: 0, resent: 0, failed: 0, escalated: 0 };
  const refunds = await context.store.db
    .selectFrom('payment_refunds')
    .innerJoin('payment_orders', 'payment_orders.id', 'payment_refunds.order_id')
    .select([
      'payment_refunds.id',
      'payment_refunds.merchant_id',
      'payment_refunds.out_refund_no',
      'payment_refunds.create_date',
    ])
    .where('payment_refunds.status', '=', 'PROCESSING')
    .where('payment_refunds.update_date', '<=', new Date(now - options.minAgeMs))
    .where('payment_refunds.create_date', '>=', new Date(now - options.maxAgeMs))
    .where('payment_orders.provider', 'in', [...context.providers.keys(), ''])
    .orderBy('payment_refunds.update_date')
    .limit(options.batchSize)
    .execute();
  // Past the window, a person takes over: once per refund.
  const stuck = await context.store.db
    .selectFrom('payment_refunds')
    .leftJoin('payment_reviews', (join) =>
      join
        .onRef('payment_reviews.merchant_id', '=', 'payment_refunds.merchant_id')
        .onRef('payment_reviews.reference', '=', 'payment_refunds.out_refund_no')
        .on('payment_reviews.kind', '=', 'refund_stuck'),
    )
    .select([
      'payment_refunds.merchant_id',
      'payment_refunds.out_refund_no',
      'payment_refunds.out_trade_no',
      'payment_refunds.refund_fee',
      'payment_refunds.create_date',
    ])
    .where('payment_refunds.status', '=', 'PROCESSING')
    .where('payment_refunds.create_date', '<', new Date(now - options.maxAgeMs))
    .where('payment_reviews.id', 'is', null)
    .limit(options.batchSize)
    .execute();
  for (const refund of stuck) {
    await recordReview(context, {
      merchantId: refund.merchant_id,
      kind: 'refund_stuck',
      reference: refund.out_refund_no,
      outTradeNo: refund.out_trade_no,
      amountFen: refund.refund_fee,
      details: { askedAt: refund.create_date.toISOString() },
    });
    report.escalated += 1;
  }
  for (const refund of refunds) {
    const ageMs = now - refund.create_date.getTime();
    const backoffMs = Math.min(Math.max(ageMs / 10, options.minAgeMs), options.maxBackoffMs);
    if (!(await context.cache.setIfAbsent(`job:refund-check:${refund.id}`, 1, backoffMs))) continue;
    report.checked += 1;
    try {
      const settled = await settlePendingRefund(context, refund.merchant_id, refund.out_refund_no);
      if (settled.resent) report.resent += 1;
      if (settled.refund.status !== 'PROCESSING') report.settled += 1;
    } catch (error) {
      report.failed += 1;
      context.logger.warn(
        { outRefundNo: refund.out_refund_no, code: isPayError(error) ? error.code : 50000 },
        'refund sync failed',
      );
    }
  }
  return report;
}

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

/** Runs `task` every `intervalMs`, never two runs at once; a failure is logged. Returns a stop function. */
export function runEvery(
  context: ServiceContext,
  intervalMs: number,
  what: string,
  task: () => Promise<void>,
): () => void {
  let running = false;
  const timer = setInterval(async () => {
    if (running) return;
    running = true;
    try {
      await task();
    } catch (error) {
      context.logger.error({ err: error }, `${what} failed`);
    } finally {
      running = false;
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** Runs the reconciliation every `intervalMs` on one instance at a time. Returns a stop function. */
export function startSyncJob(
  context: ServiceContext,
  intervalMs: number,
  options: SyncJobOptions = DEFAULT_SYNC_JOB,
): () => void {
  return runEvery(context, intervalMs, 'order sync job', async () => {
    if (!(await context.cache.setIfAbsent('job:sync-unpaid', 1, Math.max(intervalMs - 100, 1000)))) return;
    const report = await syncUnpaidOrders(context, options);
    if (report.checked > 0) context.logger.info(report, 'unpaid orders synced');
    const refunds = await syncPendingRefunds(context);
    if (refunds.checked > 0 || refunds.escalated > 0) context.logger.info(refunds, 'pending refunds synced');
    await reconcileYesterday(context);
    const pruned = await pruneWebhookHistory(context);
    if (pruned > 0) context.logger.info({ pruned }, 'old webhook events deleted');
  });
}
