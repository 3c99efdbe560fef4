/**
 * Background reconciliation: unpaid orders are asked about at the gateway (so a lost callback heals
 * without anyone querying), and expired ones are closed there; refunds left PROCESSING are asked
 * about too, and sent again when the gateway never got them. With many instances, one cache lock
 * per tick keeps them from doing the same work at once; the work itself is idempotent anyway.
 */
import { sql } from 'kysely';
import { isPayError } from '../core/errors.ts';
import { isPaid } from '../core/states.ts';
import { pruneCheckouts } from './checkouts.ts';
import type { ServiceContext } from './context.ts';
import { closePayment, queryPayment } from './payment-flow.ts';
import { syncProfitSharing } from './profit-sharing-job.ts';
import { reconcileDueDays } from './reconcile.ts';
import { settlePendingRefund } from './refund-flow.ts';
import { recordReview } from './reviews.ts';
import { storeFailure } from './store-failure.ts';
import { syncPendingTransfers } from './transfer-flow.ts';
import { pruneWebhookHistory } from './webhook-ops.ts';

export interface HealOptions {
  /** Orders claimed per tick by one instance. */
  batchSize: number;
  /** Gateway calls at once within a tick. */
  concurrency: number;
  /** The gap before an order's next check is half its age, at least this... */
  minGapMs: number;
  /** ...and at most this. */
  maxGapMs: number;
  /** Orders made before expiries were set are treated as expiring this long after creation. */
  legacyExpireMs: number;
}

/**
 * The healing schedule: first check a minute after creation (FIRST_CHECK_MS), then each check
 * after half the order's age (ages 1, 1.5, 2.25, 3.4 ... minutes), at least 30 s and at most an
 * hour apart, never past the expiry, when the order is closed at the gateway.
 */
export const DEFAULT_HEAL: HealOptions = {
  batchSize: 100,
  concurrency: 8,
  minGapMs: 30_000,
  maxGapMs: 3600_000,
  legacyExpireMs: 48 * 3600_000,
};

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
  /** Orders claimed this tick (each costs one gateway call). */
  checked: number;
  paid: number;
  closed: number;
  failed: number;
  /** Closes the gateway refused for a reason other than a payment: sent to the review queue. */
  escalated: number;
}

interface DueOrder {
  merchant_id: string;
  out_trade_no: string;
  expire_at: Date | null;
  create_date: Date;
}

/**
 * Claims the unpaid orders whose check is due, oldest due first, and moves each one's next check
 * along the schedule in the same statement. Rows another instance is claiming are skipped, so
 * instances never check one order at once.
 */
async function claimDueOrders(context: ServiceContext, options: HealOptions): Promise<DueOrder[]> {
  const now = context.now();
  const providers = [...context.providers.keys()];
  if (providers.length === 0) return [];
  const { rows } = await sql<DueOrder>`
    with due as (
      select id from payment_orders
      where status in ('NOTPAY', 'USERPAYING') and next_check_at <= ${now} and provider = any(${providers})
        -- Payment codes have a schedule of their own (micropay-job.ts).
        and scene <> 'micropay'
      order by next_check_at, id
      limit ${options.batchSize}
      for update skip locked
    )
    update payment_orders o
    set next_check_at = least(
      ${now}::timestamptz + least(greatest(
        (${now}::timestamptz - o.create_date) / 2, ${options.minGapMs} * interval '1 millisecond'),
        ${options.maxGapMs} * interval '1 millisecond'),
      -- Checked again exactly at the expiry, which is when it is closed.
      case when coalesce(o.expire_at, o.create_date + ${options.legacyExpireMs} * interval '1 millisecond') > ${now}
           then coalesce(o.expire_at, o.create_date + ${options.legacyExpireMs} * interval '1 millisecond')
           else 'infinity'::timestamptz end)
    from due
    where o.id = due.id
    returning o.merchant_id, o.out_trade_no, o.expire_at, o.create_date
  `.execute(context.store.db);
  return rows;
}

/**
 * One healing pass: each due unpaid order is asked about at the gateway (a lost callback heals),
 * or, past its expiry, closed there. A close the gateway refuses because the buyer paid applies
 * the payment; any other failed close goes to the review queue once. Never throws for one order.
 */
export async function syncUnpaidOrders(
  context: ServiceContext,
  options: HealOptions = DEFAULT_HEAL,
): Promise<SyncReport> {
  const report: SyncReport = { checked: 0, paid: 0, closed: 0, failed: 0, escalated: 0 };
  const orders = await claimDueOrders(context, options);
  const now = context.now().getTime();
  let next = 0;
  const work = async () => {
    while (next < orders.length) {
      const order = orders[next++]!;
      report.checked += 1;
      const expireAt = order.expire_at?.getTime() ?? order.create_date.getTime() + options.legacyExpireMs;
      try {
        if (expireAt <= now) await closeExpired(context, order, report);
        else {
          const answer = await queryPayment(context, order.merchant_id, order.out_trade_no);
          if (answer.orderPaid) report.paid += 1;
          else if (answer.order.status === 'CLOSED') report.closed += 1;
        }
      } catch (error) {
        report.failed += 1;
        context.logger.warn(
          { outTradeNo: order.out_trade_no, code: isPayError(error) ? error.code : 50000 },
          'order sync failed',
        );
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, orders.length) }, work));
  return report;
}

/** The seed's rollback: cancel the order at the gateway; if that fails, escalate to a person. */
async function closeExpired(context: ServiceContext, order: DueOrder, report: SyncReport): Promise<void> {
  try {
    const closed = await closePayment(context, order.merchant_id, order.out_trade_no);
    if (closed.status === 'CLOSED') report.closed += 1;
    else if (isPaid(closed.status)) report.paid += 1;
  } catch (error) {
    const payError = isPayError(error) ? error : storeFailure(error);
    // Paid meanwhile: closePayment applied the payment before saying so.
    if (payError.code === 40006) {
      report.paid += 1;
      return;
    }
    report.failed += 1;
    // A gateway that cannot be reached now is asked again at the next check; a refusal is for people.
    if (payError.retryable) throw payError;
    await recordReview(context, {
      merchantId: order.merchant_id,
      kind: 'close_failed',
      reference: order.out_trade_no,
      outTradeNo: order.out_trade_no,
      details: { code: payError.code, gatewayCode: payError.gatewayCode ?? null, message: payError.message },
    });
    report.escalated += 1;
  }
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

/**
 * Runs the background work every `intervalMs`. Every instance heals its share of the due unpaid
 * orders (claims keep them apart); the rest runs on one instance at a time, under a cache lock.
 */
export function startSyncJob(
  context: ServiceContext,
  intervalMs: number,
  options: HealOptions = DEFAULT_HEAL,
): () => void {
  return runEvery(context, intervalMs, 'order sync job', async () => {
    // Due orders are drained within the tick, a bounded number of batches at a time.
    for (let batch = 0; batch < 10; batch += 1) {
      const report = await syncUnpaidOrders(context, options);
      if (report.checked > 0) context.logger.info(report, 'unpaid orders synced');
      if (report.checked < options.batchSize) break;
    }
    // Transfers awaiting the gateway: claimed like unpaid orders, so every instance takes its share.
    const transfers = await syncPendingTransfers(context);
    if (transfers.checked > 0) context.logger.info(transfers, 'pending transfers synced');
    // Splits and returns awaiting the gateway, and the rules' splits of paid orders: claimed alike.
    const splits = await syncProfitSharing(context);
    if (splits.checked > 0 || splits.ruled > 0) context.logger.info(splits, 'profit sharing synced');
    if (!(await context.cache.setIfAbsent('job:sync-unpaid', 1, Math.max(intervalMs - 100, 1000)))) return;
    const refunds = await syncPendingRefunds(context);
    if (refunds.checked > 0 || refunds.escalated > 0) context.logger.info(refunds, 'pending refunds synced');
    await reconcileDueDays(context);
    const pruned = await pruneWebhookHistory(context);
    if (pruned > 0) context.logger.info({ pruned }, 'old webhook events deleted');
    const checkouts = await pruneCheckouts(context);
    if (checkouts > 0) context.logger.info({ checkouts }, 'expired checkouts deleted');
  });
}
