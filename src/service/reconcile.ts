/**
 * Reconciliation (对账) against the gateway's trade bills of one China date, one bill per gateway
 * account of the merchant, each matched with the orders and refunds that account took (orders from
 * before accounts existed are `default`'s). Every payment and refund the gateway billed is matched
 * with ours; what a query can settle is settled (a payment we missed,
 * a refund still processing here), and what it cannot goes to the review queue as `bill_mismatch`
 * with the reason: a payment or refund we never made, a different amount, another transaction, or
 * a payment we hold as paid that the bill does not list. Running it again changes nothing new.
 */
import { sql } from 'kysely';
import { PayError } from '../core/errors.ts';
import { isPaid, type RefundStatus } from '../core/states.ts';
import { DEFAULT_ACCOUNT } from '../providers/merchant-lookup.ts';
import type { BillRecord, Provider } from '../providers/provider.ts';
import type { ServiceContext } from './context.ts';
import { providerFor } from './gateway-call.ts';
import { queryPayment } from './payment-flow.ts';
import { refreshRefund, settlePendingRefund } from './refund-flow.ts';
import { recordReview } from './reviews.ts';

/** What one account's bill of a day held, and what matching it found. */
export interface ReconcileReport {
  provider: string;
  merchantId: string;
  /** The merchant's gateway account whose bill this is. */
  account: string;
  date: string;
  payments: number;
  refunds: number;
  /** What the bill lists, in fen: payments, and refunds. */
  paymentsFen: number;
  refundsFen: number;
  matched: number;
  /** Settled here by asking the gateway: a lost callback, a refund still processing here. */
  healed: number;
  /** Sent to the review queue. */
  mismatches: number;
}

/** A day of a merchant at a gateway: the sums over its accounts' bills, and each account's report. */
export interface ReconcileDayReport extends Omit<ReconcileReport, 'account'> {
  accounts: ReconcileReport[];
}

type Mismatch =
  | 'unknown_payment'
  | 'other_account'
  | 'amount'
  | 'other_transaction'
  | 'not_paid_here'
  | 'unknown_refund'
  | 'missing_in_bill'
  | 'refund_status'
  | 'refund_missing_in_bill';

/** The China day [00:00, 24:00) of a YYYY-MM-DD date, as instants. */
function chinaDay(date: string): { from: Date; to: Date } {
  const from = new Date(`${date}T00:00:00+08:00`);
  if (Number.isNaN(from.getTime()) || !/^\d{4}-\d{2}-\d{2}$/.test(date))
    throw new PayError(40001, { field: 'date', message: 'the bill date must be YYYY-MM-DD (China time)' });
  return { from, to: new Date(from.getTime() + 86_400_000) };
}

/** A merchant's gateway accounts at a provider, `default` first; `default` alone when it lists none. */
function accountsOf(provider: Provider, merchantId: string): string[] {
  const accounts = provider.accounts?.(merchantId) ?? [];
  return accounts.length > 0 ? accounts : [DEFAULT_ACCOUNT];
}

/** The provider, checked to have bills, and the day, checked to be published. */
function billSource(context: ServiceContext, providerName: string, date: string) {
  const day = chinaDay(date);
  if (day.to.getTime() > context.now().getTime())
    throw new PayError(40001, {
      field: 'date',
      message: `the bill of ${date} is published the next day (China time); reconcile a past day`,
    });
  const provider = providerFor(context, providerName);
  if (!provider.downloadTradeBill)
    throw new PayError(40001, {
      field: 'provider',
      message: `${provider.name} has no trade bill to reconcile with`,
    });
  return { day, provider };
}

/**
 * Reconciles a merchant's day at a gateway: the bill of `account`, or of every configured account.
 * An account whose bill fails does not stop the others; the first failure is thrown after them.
 */
export async function reconcileTradeBill(
  context: ServiceContext,
  providerName: string,
  merchantId: string,
  date: string,
  account?: string,
): Promise<ReconcileDayReport> {
  const { provider } = billSource(context, providerName, date);
  const configured = accountsOf(provider, merchantId);
  if (account !== undefined && provider.accounts?.(merchantId).length && !configured.includes(account))
    throw new PayError(40001, {
      field: 'account',
      message: `${provider.name} merchant ${merchantId} has no account ${JSON.stringify(account.slice(0, 64))}`,
    });
  const reports: ReconcileReport[] = [];
  let failure: unknown;
  for (const each of account === undefined ? configured : [account]) {
    try {
      reports.push(await reconcileAccountBill(context, provider.name, merchantId, each, date));
    } catch (error) {
      failure ??= error;
    }
  }
  if (failure !== undefined) throw failure;
  const total: ReconcileDayReport = {
    provider: provider.name,
    merchantId,
    date,
    payments: 0,
    refunds: 0,
    paymentsFen: 0,
    refundsFen: 0,
    matched: 0,
    healed: 0,
    mismatches: 0,
    accounts: reports,
  };
  for (const report of reports)
    for (const field of [
      'payments',
      'refunds',
      'paymentsFen',
      'refundsFen',
      'matched',
      'healed',
      'mismatches',
    ] as const)
      total[field] += report[field];
  return total;
}

/** Matches one account's bill of the day with the orders and refunds that account took. */
export async function reconcileAccountBill(
  context: ServiceContext,
  providerName: string,
  merchantId: string,
  account: string,
  date: string,
): Promise<ReconcileReport> {
  const { day, provider } = billSource(context, providerName, date);
  const bill = await provider.downloadTradeBill!(merchantId, date, account);
  const report: ReconcileReport = {
    provider: provider.name,
    merchantId,
    account,
    date,
    payments: 0,
    refunds: 0,
    paymentsFen: 0,
    refundsFen: 0,
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
      details: { date, account, reason, bill: { ...record, reference: undefined }, ...extra },
    });
  };
  const billedTransactions = new Set<string>();
  const billedRefunds = new Set<string>();
  const { db } = context.store;

  for (const record of bill.records) {
    if (record.kind === 'payment') {
      report.payments += 1;
      report.paymentsFen += record.totalFen;
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
      if (order.account !== account) {
        // Taken here through another of the merchant's accounts, yet billed to this one.
        await mismatch(
          'other_account',
          { ...record, reference: record.transactionId },
          { ourAccount: order.account },
        );
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
    report.refundsFen += record.refundFen;
    billedRefunds.add(record.outRefundNo);
    const refund = await db
      .selectFrom('payment_refunds')
      .innerJoin('payment_orders', 'payment_orders.id', 'payment_refunds.order_id')
      .selectAll('payment_refunds')
      .select('payment_orders.account')
      .where('payment_refunds.merchant_id', '=', merchantId)
      .where('payment_refunds.out_refund_no', '=', record.outRefundNo)
      .executeTakeFirst();
    if (!refund) {
      await mismatch('unknown_refund', { ...record, reference: record.refundId || record.outRefundNo });
      continue;
    }
    if (refund.account !== account) {
      await mismatch(
        'other_account',
        { ...record, reference: record.refundId || record.outRefundNo },
        { ourAccount: refund.account },
      );
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
    const billed = BILL_REFUND_STATUS[record.refundStatus.toUpperCase()] ?? 'SUCCESS';
    let ours = refund.status;
    if (ours !== billed) {
      // Asking the gateway settles what lags here: a lost notification, a misread refusal.
      ours =
        ours === 'PROCESSING'
          ? (await settlePendingRefund(context, merchantId, record.outRefundNo)).refund.status
          : (await refreshRefund(context, merchantId, record.outRefundNo)).status;
      if (ours === billed || (billed === 'PROCESSING' && ours !== 'PROCESSING')) report.healed += 1;
    }
    // A bill made while the refund was still in flight may say PROCESSING for one that has finished.
    if (ours !== billed && billed !== 'PROCESSING') {
      await mismatch(
        'refund_status',
        { ...record, reference: record.refundId || record.outRefundNo },
        { ourStatus: ours, billStatus: billed },
      );
      continue;
    }
    report.matched += 1;
  }

  // Refunded here on that day (asked for that day and now SUCCESS), but not in the gateway's bill.
  const refundedHere = await db
    .selectFrom('payment_refunds')
    .innerJoin('payment_orders', 'payment_orders.id', 'payment_refunds.order_id')
    .select([
      'payment_refunds.out_refund_no',
      'payment_refunds.out_trade_no',
      'payment_refunds.refund_id',
      'payment_refunds.refund_fee',
    ])
    .where('payment_refunds.merchant_id', '=', merchantId)
    .where('payment_orders.provider', '=', provider.name)
    .where('payment_orders.account', '=', account)
    .where('payment_refunds.status', '=', 'SUCCESS')
    .where('payment_refunds.create_date', '>=', day.from)
    .where('payment_refunds.create_date', '<', day.to)
    .execute();
  for (const refund of refundedHere) {
    if (billedRefunds.has(refund.out_refund_no)) continue;
    await mismatch('refund_missing_in_bill', {
      kind: 'refund',
      outTradeNo: refund.out_trade_no,
      outRefundNo: refund.out_refund_no,
      refundId: refund.refund_id ?? '',
      refundFen: refund.refund_fee,
      reference: refund.refund_id || refund.out_refund_no,
    });
  }

  // Paid here on that day, but not in the gateway's bill.
  const paidHere = await db
    .selectFrom('payment_orders')
    .select(['out_trade_no', 'transaction_id', 'total_fee', 'status'])
    .where('merchant_id', '=', merchantId)
    .where('provider', '=', provider.name)
    .where('account', '=', account)
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
  await recordDay(context, provider.name, merchantId, account, date, 'DONE', report);
  context.logger.info({ reconcile: report }, 'trade bill reconciled');
  return report;
}

/** A bill's refund status in our words: WeChat's SUCCESS, REFUNDCLOSE, PROCESSING, CHANGE (abnormal). */
const BILL_REFUND_STATUS: Record<string, RefundStatus> = {
  SUCCESS: 'SUCCESS',
  REFUNDCLOSE: 'CLOSED',
  CLOSED: 'CLOSED',
  PROCESSING: 'PROCESSING',
  CHANGE: 'ABNORMAL',
  ABNORMAL: 'ABNORMAL',
};

/**
 * A reconciled day is keyed by provider, merchant and date; the account rides in the provider
 * column as `provider:account`, so the rows written before accounts existed (a bare provider) are
 * `default`'s, as its rows still are.
 */
function dayKey(provider: string, account: string): string {
  return account === DEFAULT_ACCOUNT ? provider : `${provider}:${account}`;
}

/** The provider and the account of a day row's provider column. */
function fromDayKey(key: string): { provider: string; account: string } {
  const colon = key.indexOf(':');
  return colon < 0
    ? { provider: key, account: DEFAULT_ACCOUNT }
    : { provider: key.slice(0, colon), account: key.slice(colon + 1) };
}

/** Upserts the day's row: DONE with what it found, or FAILED with why (counted, and tried again). */
async function recordDay(
  context: ServiceContext,
  provider: string,
  merchantId: string,
  account: string,
  date: string,
  status: 'DONE' | 'FAILED',
  outcome: unknown,
): Promise<void> {
  const now = context.now();
  await context.store.db
    .insertInto('reconciled_days')
    .values({
      provider: dayKey(provider, account),
      merchant_id: merchantId,
      bill_date: date,
      status,
      outcome: JSON.stringify(outcome),
      attempts: 1,
      create_date: now,
      update_date: now,
    })
    .onConflict((conflict) =>
      conflict.columns(['provider', 'merchant_id', 'bill_date']).doUpdateSet((eb) => ({
        status,
        outcome: JSON.stringify(outcome),
        attempts: eb('reconciled_days.attempts', '+', 1),
        update_date: now,
      })),
    )
    .execute();
}

export interface ReconciledDay {
  provider: string;
  merchantId: string;
  /** The merchant's gateway account whose bill it was. */
  account: string;
  date: string;
  status: 'DONE' | 'FAILED';
  /** DONE: the report (matched, healed, mismatches); FAILED: the error. */
  outcome: unknown;
  attempts: number;
  updatedAt: string;
}

/** Each reconciled (or failed) day of each account, newest first. */
export async function listReconciledDays(
  context: ServiceContext,
  filter: {
    provider?: string;
    merchantId?: string;
    /** Only this gateway account's days. */
    account?: string;
    /** Only these merchants' days (an operator's scope); empty: none. */
    merchantIds?: readonly string[];
    from?: string;
    to?: string;
    limit?: number;
  } = {},
): Promise<ReconciledDay[]> {
  let query = context.store.db
    .selectFrom('reconciled_days')
    .selectAll()
    .orderBy('bill_date', 'desc')
    .orderBy('provider')
    .orderBy('merchant_id')
    .limit(Math.min(Math.max(filter.limit ?? 100, 1), 1000));
  if (filter.provider && filter.account)
    query = query.where('provider', '=', dayKey(filter.provider, filter.account));
  else if (filter.provider)
    query = query.where(sql<string>`split_part(provider, ':', 1)`, '=', filter.provider);
  else if (filter.account)
    query = query.where(
      sql<string>`coalesce(nullif(split_part(provider, ':', 2), ''), ${DEFAULT_ACCOUNT})`,
      '=',
      filter.account,
    );
  if (filter.merchantId) query = query.where('merchant_id', '=', filter.merchantId);
  if (filter.merchantIds?.length === 0) return [];
  if (filter.merchantIds) query = query.where('merchant_id', 'in', [...filter.merchantIds]);
  if (filter.from) query = query.where('bill_date', '>=', filter.from);
  if (filter.to) query = query.where('bill_date', '<=', filter.to);
  return (await query.execute()).map((row) => ({
    ...fromDayKey(row.provider),
    merchantId: row.merchant_id,
    date: dateText(row.bill_date),
    status: row.status,
    outcome: row.outcome,
    attempts: row.attempts,
    updatedAt: new Date(row.update_date).toISOString(),
  }));
}

/** A date column as YYYY-MM-DD, whichever way the driver hands it over. */
function dateText(value: unknown): string {
  if (value instanceof Date) {
    // pg parses a date as local midnight.
    const local = new Date(value.getTime() - value.getTimezoneOffset() * 60_000);
    return local.toISOString().slice(0, 10);
  }
  return String(value).slice(0, 10);
}

/** Yesterday in China time, as YYYY-MM-DD: the newest bill a gateway publishes. */
export function yesterdayInChina(now: Date): string {
  return new Date(now.getTime() + 8 * 3600_000 - 86_400_000).toISOString().slice(0, 10);
}

/** The China date `days` after `date` (negative: before). */
function addDays(date: string, days: number): string {
  return new Date(new Date(`${date}T00:00:00Z`).getTime() + days * 86_400_000).toISOString().slice(0, 10);
}

/** The China date of an instant. */
function chinaDate(instant: Date): string {
  return new Date(instant.getTime() + 8 * 3600_000).toISOString().slice(0, 10);
}

/** Days reconciled per merchant in one run: catching up a long gap takes several runs, not one long one. */
const DAYS_PER_RUN = 7;

/**
 * Every day not yet reconciled, for every account of every merchant of every provider with bills:
 * from the day of the account's first order (within the gateway's bill window) to yesterday, which
 * is published at 10:00 China time (WeChat Pay). Oldest first, a few days per run, each day once
 * across instances; a failed day is tried again an hour later.
 */
export async function reconcileDueDays(context: ServiceContext): Promise<ReconcileReport[]> {
  const now = context.now();
  const chinaHour = new Date(now.getTime() + 8 * 3600_000).getUTCHours();
  const newest = chinaHour >= 10 ? yesterdayInChina(now) : addDays(yesterdayInChina(now), -1);
  const reports: ReconcileReport[] = [];
  for (const provider of context.providers.values()) {
    if (!provider.downloadTradeBill || !provider.merchantIds) continue;
    const oldestAllowed = addDays(newest, -((provider.billWindowDays ?? 30) - 1));
    for (const merchantId of provider.merchantIds())
      for (const account of accountsOf(provider, merchantId)) {
        const first = await context.store.db
          .selectFrom('payment_orders')
          .select((eb) => eb.fn.min('create_date').as('first'))
          .where('merchant_id', '=', merchantId)
          .where('provider', '=', provider.name)
          .where('account', '=', account)
          .executeTakeFirst();
        if (!first?.first) continue;
        const firstDay = chinaDate(new Date(first.first as Date));
        // biome-ignore lint/complexity/useMathMinMax: ISO date strings, compared as strings
        const from = firstDay > oldestAllowed ? firstDay : oldestAllowed;
        if (from > newest) continue;
        const done = new Set(
          (
            await context.store.db
              .selectFrom('reconciled_days')
              .select('bill_date')
              .where('provider', '=', dayKey(provider.name, account))
              .where('merchant_id', '=', merchantId)
              .where('status', '=', 'DONE')
              .where('bill_date', '>=', from)
              .execute()
          ).map((row) => dateText(row.bill_date)),
        );
        let ran = 0;
        for (let date = from; date <= newest && ran < DAYS_PER_RUN; date = addDays(date, 1)) {
          if (done.has(date)) continue;
          const key = `job:reconcile:${dayKey(provider.name, account)}:${merchantId}:${date}`;
          if (!(await context.cache.setIfAbsent(key, 1, 2 * 86_400_000))) continue;
          ran += 1;
          try {
            reports.push(await reconcileAccountBill(context, provider.name, merchantId, account, date));
          } catch (error) {
            // Try again in an hour rather than at every tick.
            await context.cache.delete(key);
            await context.cache.setIfAbsent(key, 1, 3_600_000);
            await recordDay(context, provider.name, merchantId, account, date, 'FAILED', {
              code: error instanceof PayError ? error.code : 50000,
              message: error instanceof Error ? error.message : String(error),
            }).catch(() => {});
            context.logger.warn(
              { err: error, provider: provider.name, merchantId, account, date },
              'reconciliation failed',
            );
          }
        }
      }
  }
  return reports;
}
