/**
 * Reconciliation (对账) against the gateway's trade bill of one China date. Every payment and refund
 * the gateway billed is matched with ours; what a query can settle is settled (a payment we missed,
 * a refund still processing here), and what it cannot goes to the review queue as `bill_mismatch`
 * with the reason: a payment or refund we never made, a different amount, another transaction, or
 * a payment we hold as paid that the bill does not list. Running it again changes nothing new.
 */
import { PayError } from '../core/errors.ts';
import { isPaid } from '../core/states.ts';
import type { BillRecord } from '../providers/provider.ts';
import type { ServiceContext } from './context.ts';
import { providerFor } from './gateway-call.ts';
import { queryPayment } from './payment-flow.ts';
import { settlePendingRefund } from './refund-flow.ts';
import { recordReview } from './reviews.ts';

export interface ReconcileReport {
  provider: string;
  merchantId: string;
  date: string;
  payments: number;
  refunds: number;
  matched: number;
  /** Settled here by asking the gateway: a lost callback, a refund still processing here. */
  healed: number;
  /** Sent to the review queue. */
  mismatches: number;
}

type Mismatch =
  | 'unknown_payment'
  | 'amount'
  | 'other_transaction'
  | 'not_paid_here'
  | 'unknown_refund'
  | 'missing_in_bill';

/** The China day [00:00, 24:00) of a YYYY-MM-DD date, as instants. */
function chinaDay(date: string): { from: Date; to: Date } {
  const from = new Date(`${date}T00:00:00+08:00`);
  if (Number.isNaN(from.getTime()) || !/^\d{4}-\d{2}-\d{2}$/.test(date))
    throw new PayError(40001, { field: 'date', message: 'the bill date must be YYYY-MM-DD (China time)' });
  return { from, to: new Date(from.getTime() + 86_400_000) };
}

export async function reconcileTradeBill(
  context: ServiceContext,
  providerName: string,
  merchantId: string,
  date: string,
): Promise<ReconcileReport> {
  const day = chinaDay(date);
  const provider = providerFor(context, providerName);
  if (!provider.downloadTradeBill)
    throw new PayError(40001, {
      field: 'provider',
      message: `${provider.name} has no trade bill to reconcile with`,
    });
  const bill = await provider.downloadTradeBill(merchantId, date);
  const report: ReconcileReport = {
    provider: provider.name,
    merchantId,
    date,
    payments: 0,
    refunds: 0,
    matched: 0,
    healed: 0,
    mismatches: 0,
  };
  const mismatch = async (
    reason: Mismatch,
    record: Partial<BillRecord> & { reference: string },
    extra = {},
  ) => {
    report.mismatches += 1;
    await recordReview(context, {
      merchantId,
      kind: 'bill_mismatch',
      reference: `${date}:${reason}:${record.reference}`,
      outTradeNo: record.outTradeNo ?? null,
      provider: provider.name,
      amountFen: record.kind === 'refund' ? record.refundFen : (record.totalFen ?? null),
      details: { date, reason, bill: { ...record, reference: undefined }, ...extra },
    });
  };
  const billedTransactions = new Set<string>();
  const { db } = context.store;

  for (const record of bill.records) {
    if (record.kind === 'payment') {
      report.payments += 1;
      billedTransactions.add(record.transactionId);
      let order = await db
        .selectFrom('payment_orders')
        .selectAll()
        .where('merchant_id', '=', merchantId)
        .where('out_trade_no', '=', record.outTradeNo)
        .where('provider', '=', provider.name)
        .executeTakeFirst();
      if (!order) {
        await mismatch('unknown_payment', { ...record, reference: record.transactionId });
        continue;
      }
      if (order.total_fee !== record.totalFen) {
        await mismatch('amount', { ...record, reference: record.transactionId }, { ourFen: order.total_fee });
        continue;
      }
      if (!isPaid(order.status) && order.status !== 'CLOSED') {
        // A callback we never got and the job has not caught yet: the query applies it.
        const answer = await queryPayment(context, merchantId, record.outTradeNo);
        if (answer.orderPaid) report.healed += 1;
        order = { ...order, status: answer.order.status, transaction_id: answer.order.transactionId };
      }
      if (!isPaid(order.status)) {
        await mismatch(
          'not_paid_here',
          { ...record, reference: record.transactionId },
          { ourStatus: order.status },
        );
      } else if (order.transaction_id !== record.transactionId) {
        await mismatch(
          'other_transaction',
          { ...record, reference: record.transactionId },
          {
            ourTransactionId: order.transaction_id,
          },
        );
      } else report.matched += 1;
      continue;
    }
    report.refunds += 1;
    const refund = await db
      .selectFrom('payment_refunds')
      .selectAll()
      .where('merchant_id', '=', merchantId)
      .where('out_refund_no', '=', record.outRefundNo)
      .executeTakeFirst();
    if (!refund) {
      await mismatch('unknown_refund', { ...record, reference: record.refundId || record.outRefundNo });
      continue;
    }
    if (refund.refund_fee !== record.refundFen) {
      await mismatch(
        'amount',
        { ...record, reference: record.refundId || record.outRefundNo },
        {
          ourFen: refund.refund_fee,
        },
      );
      continue;
    }
    if (refund.status === 'PROCESSING') {
      const settled = await settlePendingRefund(context, merchantId, record.outRefundNo);
      if (settled.refund.status !== 'PROCESSING') report.healed += 1;
    }
    report.matched += 1;
  }

  // Paid here on that day, but not in the gateway's bill.
  const paidHere = await db
    .selectFrom('payment_orders')
    .select(['out_trade_no', 'transaction_id', 'total_fee', 'status'])
    .where('merchant_id', '=', merchantId)
    .where('provider', '=', provider.name)
    .where('paid_at', '>=', day.from)
    .where('paid_at', '<', day.to)
    .execute();
  for (const order of paidHere) {
    if (!isPaid(order.status) || !order.transaction_id || billedTransactions.has(order.transaction_id))
      continue;
    await mismatch('missing_in_bill', {
      outTradeNo: order.out_trade_no,
      transactionId: order.transaction_id,
      totalFen: order.total_fee,
      reference: order.transaction_id,
    });
  }
  context.logger.info({ reconcile: report }, 'trade bill reconciled');
  return report;
}

/** Yesterday in China time, as YYYY-MM-DD: the newest bill a gateway publishes. */
export function yesterdayInChina(now: Date): string {
  return new Date(now.getTime() + 8 * 3600_000 - 86_400_000).toISOString().slice(0, 10);
}

/**
 * Once a day, from 10:00 China time (when WeChat Pay has published yesterday's bill), every
 * merchant of every provider with bills is reconciled, on one instance, once.
 */
export async function reconcileYesterday(context: ServiceContext): Promise<ReconcileReport[]> {
  const now = context.now();
  const chinaHour = new Date(now.getTime() + 8 * 3600_000).getUTCHours();
  if (chinaHour < 10) return [];
  const date = yesterdayInChina(now);
  const reports: ReconcileReport[] = [];
  for (const provider of context.providers.values()) {
    if (!provider.downloadTradeBill || !provider.merchantIds) continue;
    for (const merchantId of provider.merchantIds()) {
      const key = `job:reconcile:${provider.name}:${merchantId}:${date}`;
      if (!(await context.cache.setIfAbsent(key, 1, 2 * 86_400_000))) continue;
      try {
        reports.push(await reconcileTradeBill(context, provider.name, merchantId, date));
      } catch (error) {
        // Try again in an hour rather than at every tick.
        await context.cache.delete(key);
        await context.cache.setIfAbsent(key, 1, 3_600_000);
        context.logger.warn(
          { err: error, provider: provider.name, merchantId, date },
          'reconciliation failed',
        );
      }
    }
  }
  return reports;
}
