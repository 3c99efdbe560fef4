/**
 * Orders and payment results: creating an order, reading it through the cache, and applying what a
 * gateway says about it, in one transaction with the business handler.
 */
import type { Transaction } from 'kysely';
import { maskCardNumbers } from '../core/card-data.ts';
import { isPayError, PayError } from '../core/errors.ts';
import { sanitize } from '../core/sanitize.ts';
import { canMoveOrder, isPaid, ORDER_STATUSES } from '../core/states.ts';
import { type PaymentInput, validatePaymentInput } from '../core/validate.ts';
import type { PaymentResult } from '../providers/provider.ts';
import { insertLogAndEvent, type LogEntry } from '../store/journal.ts';
import { findOrder, insertOrder, lockOrder, payOrderIfPayable, updateOrder } from '../store/orders.ts';
import type { Database, NewOrderRow, OrderAttempt, OrderRow } from '../store/schema.ts';
import { claimCheckout } from './checkouts.ts';
import { orderCacheKey, recordError, recordLog, type ServiceContext, type WithChange } from './context.ts';
import { announceOrderChange, recordPaymentEvent } from './events.ts';
import { type Order, toOrder } from './model.ts';
import { type ReviewKind, recordReview } from './reviews.ts';
import { storeFailure } from './store-failure.ts';

export interface CreateOrderRequest extends PaymentInput {
  merchantId: string;
  /** The gateway merchant and app that will take the payment; results must come from them. */
  mchId?: string | null;
  appId?: string | null;
  /** The merchant's gateway account that takes it (`default` when unset), and the route that chose it. */
  account?: string;
  route?: string | null;
  variant?: string | null;
  clientIp?: string | null;
  expireAt?: Date | null;
  /** Made by a buyer's choice in the cashier: claims the checkout, refused once it is cancelled. */
  checkout?: boolean;
  /** The same request for a paid order returns it (a payment code asked again) instead of 40006. */
  repeatPaid?: boolean;
  /**
   * Keep the funds frozen for profit sharing after payment. Implied by a split rule for the order's
   * type on a gateway that splits; asked for on a gateway that does not, refused (40009).
   */
  profitSharing?: boolean;
}

/** Whether a new order is created for splitting: asked for, or a rule for its type on a gateway that splits. */
export function orderProfitSharing(
  context: ServiceContext,
  request: { profitSharing?: boolean },
  provider: string,
  type: string,
): boolean {
  const splits = Boolean(context.providers.get(provider)?.profitSharing);
  if (request.profitSharing === true && !splits)
    throw new PayError(40009, {
      field: 'profit_sharing',
      message: `${provider} has no profit sharing on this service; create the payment without profit_sharing`,
    });
  return request.profitSharing === true || (splits && context.profitSharing?.rules[type] !== undefined);
}

/** An unpaid order is first asked about at the gateway this long after it was made (its callback's turn first). */
export const FIRST_CHECK_MS = 60_000;

export interface CreatedOrder {
  order: Order;
  /** False when the same request was made before and this is its order. */
  created: boolean;
}

/**
 * Creates an unpaid order, or returns the one made by the same request earlier. Reusing an
 * out_trade_no for a different payment is refused, and so is paying an order twice.
 */
export async function createOrder(
  context: ServiceContext,
  request: CreateOrderRequest,
): Promise<CreatedOrder> {
  const validated = validatePaymentInput(request, {
    ...context.rules,
    orderTypes: context.handlers.orderTypes(),
  });
  // A card number in the subject is masked before it is stored or sent to a gateway.
  const params = { ...validated, subject: maskCardNumbers(validated.subject) };
  const profitSharing = orderProfitSharing(context, request, params.provider, params.type);
  const { db } = context.store;
  const row: NewOrderRow = {
    merchant_id: request.merchantId,
    out_trade_no: params.outTradeNo,
    provider: params.provider,
    scene: params.scene,
    type: params.type,
    subject: params.subject,
    total_fee: params.totalFen,
    status: 'NOTPAY',
    user_id: params.userId,
    openid: params.openid,
    custom: JSON.stringify(storableCustom(context, params.custom)),
    mch_id: request.mchId ?? null,
    app_id: request.appId ?? null,
    account: request.account ?? 'default',
    route: request.route ?? null,
    variant: request.variant ?? null,
    client_ip: request.clientIp ?? null,
    expire_at: request.expireAt ?? new Date(context.now().getTime() + context.orderExpireMs),
    next_check_at: new Date(context.now().getTime() + FIRST_CHECK_MS),
    profit_sharing: profitSharing,
    create_date: context.now(),
    update_date: context.now(),
  };
  const inserted = await (request.checkout
    ? db.transaction().execute(async (tx) => {
        await claimCheckout(tx, request.merchantId, params.outTradeNo, row.expire_at as Date, context.now());
        return insertOrder(tx, row);
      })
    : insertOrder(db, row)
  ).catch((error) => {
    throw storeFailure(error);
  });
  if (inserted) return { order: toOrder(inserted), created: true };

  const existing = await findOrder(db, request.merchantId, params.outTradeNo);
  if (!existing) throw new PayError(40010, { message: 'the order was removed while being created; retry' });
  if (isPaid(existing.status) && !request.repeatPaid) {
    throw new PayError(40006, { field: 'out_trade_no', details: { status: existing.status } });
  }
  const differences = (
    [
      ['total_fee', existing.total_fee, params.totalFen],
      ['subject', existing.subject, params.subject],
      ['type', existing.type, params.type],
      ['provider', existing.provider, params.provider],
      ['scene', existing.scene, params.scene],
      ['user_id', existing.user_id, params.userId],
      ['profit_sharing', existing.profit_sharing, profitSharing],
    ] as const
  ).filter(([, before, now]) => before !== now);
  if (differences.length > 0 || existing.status === 'CLOSED') {
    throw new PayError(40001, {
      field: 'out_trade_no',
      message:
        existing.status === 'CLOSED'
          ? 'out_trade_no belongs to a closed order; use a new out_trade_no'
          : `out_trade_no is already used by a different payment (${differences.map(([field]) => field).join(', ')}); use a new out_trade_no`,
    });
  }
  return { order: toOrder(existing), created: false };
}

/** What of `custom` may be stored: card data, CVVs and keys redacted, configured fields sealed. */
function storableCustom(context: ServiceContext, custom: Record<string, unknown>): Record<string, unknown> {
  const safe = sanitize(custom) as Record<string, unknown>;
  return context.sealer ? context.sealer.seal(safe) : safe;
}

/** The order, from the cache when it is there (300 s), otherwise from the store. */
export async function getOrder(
  context: ServiceContext,
  merchantId: string,
  outTradeNo: string,
): Promise<Order> {
  const key = orderCacheKey(merchantId, outTradeNo);
  const cached = await context.cache.get<{ version: number; value: Order }>(key).catch((error) => {
    context.logger.warn({ err: error }, 'cache read failed; reading the store');
    return undefined;
  });
  if (cached) return cached.value;
  const row = await findOrder(context.store.db, merchantId, outTradeNo).catch((error) => {
    throw storeFailure(error);
  });
  if (!row) throw new PayError(40005, { field: 'out_trade_no' });
  const order = toOrder(row);
  await cacheOrder(context, order);
  return order;
}

/** Puts the order in the cache unless a newer version is there already. */
export async function cacheOrder(context: ServiceContext, order: Order): Promise<void> {
  try {
    await context.cache.setIfNewer(
      orderCacheKey(order.merchantId, order.outTradeNo),
      order.version,
      order,
      context.resultCacheTtlMs,
    );
  } catch (error) {
    context.logger.warn({ err: error }, 'cache write failed');
  }
}

export type ApplyOutcome =
  /** The order changed; for a payment, the business handler ran and committed with it. */
  | { outcome: 'applied'; order: Order }
  /** The same result was applied before; nothing changed. */
  | { outcome: 'already_applied'; order: Order }
  /** The result says nothing new (still unpaid, or an old status for a paid order); nothing changed. */
  | { outcome: 'ignored'; order: Order; reason: string }
  /** The business handler failed; everything rolled back and the order is as it was. Retry later. */
  | { outcome: 'handler_failed'; order: Order; error: PayError };

class HandlerFailure extends Error {
  constructor(readonly payError: PayError) {
    super(payError.message);
  }
}

/**
 * Applies a verified gateway result to its order in one transaction: lock the order, check the
 * merchant and amount, move the status along the state machine, and run the handler for the
 * order's type. Safe to call any number of times, from callbacks and queries on any instance.
 */
export async function applyPaymentResult(
  context: ServiceContext,
  result: PaymentResult,
  withApplied?: WithChange<Order>,
): Promise<ApplyOutcome> {
  const started = performance.now();
  let outcome: ApplyOutcome;
  let deliveries = 0;
  const moved: Moved = {};
  try {
    outcome = await context.store.db.transaction().execute(async (tx) => {
      const decided = await applyInTransaction(context, tx, result, moved);
      // The merchant's event commits with the change it reports (the outbox).
      if (decided.outcome === 'applied' && (result.status === 'SUCCESS' || result.status === 'CLOSED')) {
        const recorded = await recordPaymentEvent(
          context,
          tx,
          result.status === 'SUCCESS' ? 'payment.succeeded' : 'payment.closed',
          decided.order,
        );
        deliveries = recorded.deliveries;
        if (recorded.awaitsAck) decided.order = { ...decided.order, userOrderSuccess: false };
      }
      // The success row and the event record commit with the change they record: one commit per
      // callback, and one statement for both.
      const event =
        decided.outcome === 'applied' && result.status === 'SUCCESS' && result.eventId
          ? {
              provider: result.provider,
              eventId: result.eventId,
              subjectKind: 'payment' as const,
              merchantId: decided.order.merchantId,
              outTradeNo: decided.order.outTradeNo,
              payload: result.raw ?? null,
              result: 'applied',
            }
          : null;
      await insertLogAndEvent(tx, applyLogEntry(result, started), event);
      if (decided.outcome === 'applied') await withApplied?.(tx, decided.order);
      return decided;
    });
  } catch (error) {
    if (error instanceof HandlerFailure) {
      await recordError(context, error.payError, {
        subjectKind: 'payment',
        merchantId: result.merchantId,
        outTradeNo: result.outTradeNo,
        provider: result.provider,
      });
      await recordApplyLog(context, result, started, error.payError);
      const row = await findOrder(context.store.db, result.merchantId, result.outTradeNo);
      return { outcome: 'handler_failed', order: toOrder(row!), error: error.payError };
    }
    let payError = isPayError(error) ? error : storeFailure(error);
    await recordError(context, payError, {
      subjectKind: 'payment',
      merchantId: result.merchantId,
      outTradeNo: result.outTradeNo,
      provider: result.provider,
      payload: { status: result.status, amountFen: result.amountFen, transactionId: result.transactionId },
    });
    await recordApplyLog(context, result, started, payError);
    payError = await escalate(context, result, payError);
    throw payError;
  }
  if (outcome.outcome === 'applied') {
    await cacheOrder(context, outcome.order);
    announceOrderChange(context, outcome.order.merchantId, outcome.order.outTradeNo);
    if (deliveries > 0) context.webhooks.wake();
    if (moved.displaced) await closeDisplacedAttempt(context, outcome.order, moved.displaced);
  }
  return outcome;
}

/** Set when a payment through an earlier attempt moved the order back to that attempt's gateway. */
interface Moved {
  displaced?: OrderAttempt;
}

/**
 * The order was paid through an earlier attempt, so the attempt the buyer switched to is closed at
 * its gateway. Should that fail, a payment through it still arrives as a second payment for review.
 */
async function closeDisplacedAttempt(context: ServiceContext, order: Order, attempt: OrderAttempt) {
  const provider = context.providers.get(attempt.provider);
  if (!provider) return;
  try {
    await provider.closePayment({ merchantId: order.merchantId, outTradeNo: order.outTradeNo });
  } catch (error) {
    const code = isPayError(error) ? error.code : undefined;
    if (code === 40005) return;
    context.logger.warn(
      { err: error, outTradeNo: order.outTradeNo, provider: attempt.provider },
      'could not close the attempt a payment through an earlier gateway displaced',
    );
  }
}

/**
 * A refusal that needs a person (money arrived that the order cannot take) goes to the review
 * queue, once per payment. The error then carries the review's id: the case is recorded, so a
 * callback may be acknowledged instead of being sent again and again.
 */
async function escalate(context: ServiceContext, result: PaymentResult, error: PayError): Promise<PayError> {
  const review = (error.details as { review?: { kind: ReviewKind; reference: string } } | undefined)?.review;
  if (error.code !== 40006 || !review?.reference) return error;
  try {
    const reviewId = await recordReview(context, {
      merchantId: result.merchantId,
      kind: review.kind,
      reference: review.reference,
      outTradeNo: result.outTradeNo,
      provider: result.provider,
      amountFen: result.amountFen,
      details: { ...(error.details as object), source: result.source, message: error.message },
    });
    return new PayError(40006, {
      field: error.field,
      message: error.message,
      details: { ...(error.details as object), reviewId },
    });
  } catch (failure) {
    context.logger.error({ err: failure, outTradeNo: result.outTradeNo }, 'could not record a review');
    return error;
  }
}

/** The decision and the writes, under the order's row lock. Throws to roll everything back. */
async function applyInTransaction(
  context: ServiceContext,
  tx: Transaction<Database>,
  result: PaymentResult,
  moved: Moved,
): Promise<ApplyOutcome> {
  if (result.status === 'SUCCESS') {
    // The common case in one statement: an unpaid order of this merchant, app and amount becomes
    // paid, and the UPDATE takes the row lock. Anything else (already paid, another amount, closed,
    // unknown) takes the locked path below, which says exactly what is wrong.
    const paid = await markPaidIfPayable(tx, result, context.now());
    if (paid) return runHandler(context, tx, toOrder(paid), result);
  }
  const row = await lockOrder(tx, result.merchantId, result.outTradeNo);
  if (!row)
    throw new PayError(40005, { field: 'out_trade_no', message: `order ${result.outTradeNo} not found` });
  // A result from a gateway the buyer switched away from (see switchProvider in payment-flow.ts).
  const earlier =
    row.provider === result.provider
      ? undefined
      : (row.attempts ?? []).find((attempt) => attempt.provider === result.provider);
  checkResultMatchesOrder(row, result, earlier);

  if (result.status !== 'SUCCESS') {
    if (earlier) {
      return {
        outcome: 'ignored',
        order: toOrder(row),
        reason: `${result.provider} is an earlier attempt of this order; its ${result.status} does not apply`,
      };
    }
    return applyUnpaidStatus(context, tx, row, result);
  }

  if (isPaid(row.status)) {
    if (row.transaction_id === result.transactionId) {
      return { outcome: 'already_applied', order: toOrder(row) } as const;
    }
    throw new PayError(40006, {
      field: 'transaction_id',
      message: `order ${row.out_trade_no} was paid again by ${result.transactionId}; it was already paid by ${row.transaction_id}: refund the second payment`,
      details: {
        first: row.transaction_id,
        second: result.transactionId,
        review: { kind: 'second_payment', reference: result.transactionId },
      },
    });
  }
  if (!canMoveOrder(row.status, 'SUCCESS')) {
    throw new PayError(40006, {
      field: 'status',
      message: `order ${row.out_trade_no} is ${row.status} but the gateway reports it paid; review it by hand`,
      details: {
        status: row.status,
        transactionId: result.transactionId,
        review: { kind: 'paid_after_close', reference: result.transactionId },
      },
    });
  }
  // Paid through an earlier attempt: the order moves back to that gateway, and the attempt the buyer
  // switched to becomes an earlier one, to be closed once this commits.
  if (earlier) {
    moved.displaced = {
      provider: row.provider,
      scene: row.scene,
      mch_id: row.mch_id,
      app_id: row.app_id,
      account: row.account,
      closed: 'open',
      at: context.now().toISOString(),
    };
  }
  const rebind =
    earlier && moved.displaced
      ? {
          provider: earlier.provider,
          scene: earlier.scene,
          mch_id: earlier.mch_id,
          app_id: earlier.app_id,
          account: earlier.account ?? 'default',
          attempts: JSON.stringify([
            ...(row.attempts ?? []).filter((attempt) => attempt !== earlier),
            moved.displaced,
          ]),
        }
      : {};
  const paid = await updateOrder(
    tx,
    row,
    {
      status: 'SUCCESS',
      transaction_id: result.transactionId,
      paid_at: result.paidAt ?? context.now(),
      user_order_success: true,
      gateway_payload: JSON.stringify(result.raw ?? null),
      ...rebind,
    },
    context.now(),
  );
  if (!paid) throw new PayError(40010, { message: 'the order changed under its lock; retry' });
  return runHandler(context, tx, toOrder(paid), result);
}

/** The statuses a payment may arrive in, from the state machine. */
const PAYABLE_STATUSES = ORDER_STATUSES.filter((status) => canMoveOrder(status, 'SUCCESS'));

/** Pays the order in one conditional UPDATE when every check of checkResultMatchesOrder passes. */
function markPaidIfPayable(
  tx: Transaction<Database>,
  result: PaymentResult,
  now: Date,
): Promise<OrderRow | undefined> {
  return payOrderIfPayable(
    tx,
    {
      merchantId: result.merchantId,
      outTradeNo: result.outTradeNo,
      provider: result.provider,
      payableStatuses: PAYABLE_STATUSES,
      amountFen: result.amountFen,
      mchId: result.mchId ?? null,
      appId: result.appId ?? null,
      account: result.account ?? null,
    },
    {
      status: 'SUCCESS',
      transaction_id: result.transactionId,
      paid_at: result.paidAt ?? now,
      user_order_success: true,
      gateway_payload: JSON.stringify(result.raw ?? null),
    },
    now,
  );
}

/** Runs the handler for a just-paid order inside its transaction; a failure rolls the payment back. */
async function runHandler(
  context: ServiceContext,
  tx: Transaction<Database>,
  order: Order,
  result: PaymentResult,
): Promise<ApplyOutcome> {
  const handler = context.handlers.get(order.type);
  if (handler) {
    let verdict: unknown;
    try {
      const custom = context.sealer ? context.sealer.unseal(order.custom) : order.custom;
      verdict = await handler({ order: { ...order, custom }, custom, tx, result });
    } catch (error) {
      throw new HandlerFailure(
        new PayError(50000, {
          message: `the ${order.type} handler failed for ${order.outTradeNo}: ${error instanceof Error ? error.message : String(error)}`,
          cause: error,
        }),
      );
    }
    if (verdict === false) {
      throw new HandlerFailure(
        new PayError(50000, {
          message: `the ${order.type} handler returned false for ${order.outTradeNo}`,
        }),
      );
    }
  }
  return { outcome: 'applied', order } as const;
}

/** Refuses a result from another merchant or app, or for another amount: the order stays as it is. */
function checkResultMatchesOrder(row: OrderRow, result: PaymentResult, earlier?: OrderAttempt): void {
  if (row.provider !== result.provider && !earlier) {
    throw new PayError(40002, {
      field: 'provider',
      message: `a ${result.provider} result cannot settle ${row.provider} order ${row.out_trade_no}`,
    });
  }
  const binding = earlier ?? row;
  for (const [field, expected, actual] of [
    ['account', binding.account ?? 'default', result.account],
    ['mch_id', binding.mch_id, result.mchId],
    ['app_id', binding.app_id, result.appId],
  ] as const) {
    if (expected !== null && actual !== undefined && actual !== null && expected !== actual) {
      throw new PayError(40002, {
        field,
        message: `${field} of the result does not match order ${row.out_trade_no}`,
        details: { expected, actual },
      });
    }
  }
  if (result.status === 'SUCCESS' && result.amountFen !== row.total_fee) {
    throw new PayError(40001, {
      field: 'amount',
      message: `paid amount ${result.amountFen} fen does not match order ${row.out_trade_no} of ${row.total_fee} fen`,
      details: { expected: row.total_fee, actual: result.amountFen },
    });
  }
}

async function applyUnpaidStatus(
  context: ServiceContext,
  tx: Parameters<typeof updateOrder>[0],
  row: OrderRow,
  result: PaymentResult,
): Promise<ApplyOutcome> {
  const target = result.status as Exclude<PaymentResult['status'], 'SUCCESS'>;
  if (row.status === target) return { outcome: 'already_applied', order: toOrder(row) };
  if (!canMoveOrder(row.status, target)) {
    return {
      outcome: 'ignored',
      order: toOrder(row),
      reason: `order is ${row.status}; ${target} does not apply`,
    };
  }
  const moved = await updateOrder(
    tx,
    row,
    { status: target, ...(target === 'CLOSED' ? { closed_at: context.now() } : {}) },
    context.now(),
  );
  if (!moved) throw new PayError(40010, { message: 'the order changed under its lock; retry' });
  return { outcome: 'applied', order: toOrder(moved) };
}

function applyLogEntry(result: PaymentResult, started: number, error?: PayError): LogEntry {
  return {
    type: `apply_${result.source}`,
    status: error ? 'ERROR' : 'SUCCESS',
    subjectKind: 'payment',
    merchantId: result.merchantId,
    outTradeNo: result.outTradeNo,
    provider: result.provider,
    amount: result.amountFen,
    error: error ? { code: error.code, message: error.message, gatewayCode: error.gatewayCode } : undefined,
    responseMs: Math.round(performance.now() - started),
  };
}

async function recordApplyLog(
  context: ServiceContext,
  result: PaymentResult,
  started: number,
  error: PayError,
) {
  await recordLog(context, applyLogEntry(result, started, error));
}
