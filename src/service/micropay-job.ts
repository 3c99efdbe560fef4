/**
 * The payment-code schedule: an order whose buyer is confirming is asked about every `pollMs`
 * until its confirmation window (its expiry) passes; then it is reversed at the gateway and closed
 * here, with its event in the same transaction. A payment the gateway reports first is applied and
 * never reversed; a reversal the gateway refuses becomes a review. Orders are claimed oldest due
 * first with FOR UPDATE SKIP LOCKED and their next check moved in the same statement, so every
 * stuck order gets its turn and instances never work on one order at once.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { sql } from 'kysely';
import { isPayError, type PayError } from '../core/errors.ts';
import { isFinal, isPaid } from '../core/states.ts';
import type { Provider } from '../providers/provider.ts';
import { findOrder } from '../store/orders.ts';
import type { ServiceContext } from './context.ts';
import { gatewayCall, providerFor } from './gateway-call.ts';
import { runEvery } from './jobs.ts';
import { type MicropaySettings, micropaySettings } from './micropay.ts';
import { toOrder } from './model.ts';
import { applyPaymentResult } from './payments.ts';
import { recordReview } from './reviews.ts';
import { storeFailure } from './store-failure.ts';

export interface MicropayReport {
  /** Orders claimed this tick. */
  checked: number;
  paid: number;
  /** Reversed at the gateway and closed here. */
  reversed: number;
  /** Calls that failed and will be tried again at the next check. */
  failed: number;
  /** Reversals the gateway refused, sent to the review queue. */
  escalated: number;
}

interface DueOrder {
  merchant_id: string;
  out_trade_no: string;
  provider: string;
  account: string;
  total_fee: number;
  expire_at: Date | null;
}

/**
 * Claims the due payment-code orders still unpaid and moves each one's next check: a confirming
 * one (USERPAYING) `pollMs` on, never past its window's end; one whose code was refused (NOTPAY) or
 * whose payment failed (FAILED), with nothing in flight, at its window's end, when it is closed.
 */
async function claimDue(context: ServiceContext, settings: MicropaySettings): Promise<DueOrder[]> {
  const now = context.now();
  const providers = [...context.providers.keys()];
  if (providers.length === 0) return [];
  const poll = sql`${now}::timestamptz + ${settings.pollMs} * interval '1 millisecond'`;
  const { rows } = await sql<DueOrder>`
    with due as (
      select id from payment_orders
      where scene = 'micropay' and status in ('NOTPAY', 'USERPAYING', 'FAILED') and next_check_at <= ${now}
        and provider = any(${providers})
      order by next_check_at, id
      limit ${settings.batchSize}
      for update skip locked
    )
    update payment_orders o
    set next_check_at = case
      when o.expire_at is null or o.expire_at <= ${now} then ${poll}
      when o.status <> 'USERPAYING' then o.expire_at
      else least(${poll}, o.expire_at) end
    from due
    where o.id = due.id
    returning o.merchant_id, o.out_trade_no, o.provider, o.account, o.total_fee, o.expire_at
  `.execute(context.store.db);
  return rows;
}

/** One pass: every due payment-code order is asked about, and reversed once its window passed. */
export async function settleConfirmingPayments(
  context: ServiceContext,
  settings: MicropaySettings = micropaySettings(context),
): Promise<MicropayReport> {
  const report: MicropayReport = { checked: 0, paid: 0, reversed: 0, failed: 0, escalated: 0 };
  const orders = await claimDue(context, settings).catch((error) => {
    throw storeFailure(error);
  });
  let next = 0;
  const work = async () => {
    while (next < orders.length) {
      const order = orders[next++]!;
      report.checked += 1;
      try {
        await settleOne(context, settings, order, report);
      } catch (error) {
        report.failed += 1;
        context.logger.warn(
          { outTradeNo: order.out_trade_no, code: isPayError(error) ? error.code : 50000 },
          'payment-code check failed',
        );
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(settings.concurrency, orders.length) }, work));
  return report;
}

async function settleOne(
  context: ServiceContext,
  settings: MicropaySettings,
  order: DueOrder,
  report: MicropayReport,
): Promise<void> {
  const provider = providerFor(context, order.provider);
  const windowOver = !order.expire_at || order.expire_at.getTime() <= context.now().getTime();
  // The gateway's word first: a payment it reports is applied, and never reversed.
  let gatewayStatus: string | null = null;
  try {
    const result = await gatewayCall(
      context,
      {
        type: 'query',
        provider: provider.name,
        merchantId: order.merchant_id,
        subjectKind: 'payment',
        outTradeNo: order.out_trade_no,
        amount: order.total_fee,
      },
      () =>
        provider.queryPayment({
          merchantId: order.merchant_id,
          account: order.account,
          outTradeNo: order.out_trade_no,
          scene: 'micropay',
        }),
    );
    gatewayStatus = result.status;
    const applied = await applyPaymentResult(context, {
      ...result,
      merchantId: order.merchant_id,
      source: 'query',
    });
    if (isPaid(applied.order.status) || result.status === 'SUCCESS') {
      if (isPaid(applied.order.status)) report.paid += 1;
      return;
    }
    if (isFinal(applied.order.status)) return;
  } catch (error) {
    // No trade at the gateway (the code was refused before one existed): nothing to wait for.
    if (!(isPayError(error) && error.code === 40005)) throw error;
  }
  if (!windowOver || gatewayStatus === 'SUCCESS') return;
  await reverseUnconfirmed(context, settings, provider, order, report);
}

/** Reverses at the gateway (repeating while it asks to), then closes the order here. */
async function reverseUnconfirmed(
  context: ServiceContext,
  settings: MicropaySettings,
  provider: Provider,
  order: DueOrder,
  report: MicropayReport,
): Promise<void> {
  // The store's word last: a notification may have paid it since the query.
  const row = await findOrder(context.store.db, order.merchant_id, order.out_trade_no);
  if (!row || isPaid(row.status) || isFinal(row.status)) return;
  let refusal: PayError | null = null;
  for (let attempt = 1; attempt <= settings.reverseAttempts; attempt += 1) {
    let answer: 'reversed' | 'retry';
    try {
      answer = await gatewayCall(
        context,
        {
          type: 'reverse',
          provider: provider.name,
          merchantId: order.merchant_id,
          subjectKind: 'payment',
          outTradeNo: order.out_trade_no,
          amount: order.total_fee,
        },
        () =>
          provider.reversePayment!({
            merchantId: order.merchant_id,
            account: order.account,
            outTradeNo: order.out_trade_no,
          }),
      );
    } catch (error) {
      const payError = isPayError(error) ? error : storeFailure(error);
      // A gateway that cannot be reached now is asked again at the next check.
      if (payError.retryable || payError.outcomeUnknown) throw payError;
      refusal = payError;
      break;
    }
    if (answer === 'reversed') {
      const closed = await applyPaymentResult(context, {
        merchantId: order.merchant_id,
        provider: provider.name,
        outTradeNo: order.out_trade_no,
        transactionId: null,
        amountFen: order.total_fee,
        status: 'CLOSED',
        source: 'query',
        raw: { closedBy: 'reverse' },
      });
      if (closed.order.status === 'CLOSED') report.reversed += 1;
      return;
    }
    if (attempt < settings.reverseAttempts) await delay(settings.reverseRetryDelayMs);
  }
  report.escalated += 1;
  await recordReview(context, {
    merchantId: order.merchant_id,
    kind: 'reverse_failed',
    reference: order.out_trade_no,
    outTradeNo: order.out_trade_no,
    provider: provider.name,
    amountFen: order.total_fee,
    details: refusal
      ? { code: refusal.code, gatewayCode: refusal.gatewayCode ?? null, message: refusal.message }
      : {
          gatewayCode: 'RETRY',
          message: `the gateway asked to repeat the reversal ${settings.reverseAttempts} times`,
        },
  });
  // A person has the case; the schedule still tries now and then, in case the gateway relents.
  await context.store.db
    .updateTable('payment_orders')
    .set({ next_check_at: new Date(context.now().getTime() + settings.refusedReverseGapMs) })
    .where('merchant_id', '=', order.merchant_id)
    .where('out_trade_no', '=', order.out_trade_no)
    .execute();
}

/** Runs the payment-code schedule every `pollMs` on every instance (claims keep them apart). */
export function startMicropayJob(context: ServiceContext): () => void {
  const settings = micropaySettings(context);
  return runEvery(context, settings.pollMs, 'payment-code job', async () => {
    for (let batch = 0; batch < 10; batch += 1) {
      const report = await settleConfirmingPayments(context, settings);
      if (report.reversed > 0 || report.paid > 0 || report.escalated > 0)
        context.logger.info(report, 'payment-code orders settled');
      if (report.checked < settings.batchSize) break;
    }
  });
}
