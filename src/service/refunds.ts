/**
 * Refund bookkeeping. A refund is reserved under the order's lock, only within what is still
 * refundable, and its gateway results move the refund and the order's refunded total together.
 */
import { maskCardNumbers } from '../core/card-data.ts';
import { isPayError, PayError } from '../core/errors.ts';
import { assertRefundMove, canMoveRefund, isPaid, statusAfterRefunds } from '../core/states.ts';
import { type RefundInput, validateRefundInput } from '../core/validate.ts';
import type { RefundResult } from '../providers/provider.ts';
import { insertNotifyEvent } from '../store/journal.ts';
import { lockOrder, lockOrderById, updateOrder } from '../store/orders.ts';
import {
  findRefund,
  heldRefundFen,
  insertRefund,
  listRefunds,
  lockRefund,
  updateRefund,
} from '../store/refunds.ts';
import { recordError, recordLog, type ServiceContext, type WithChange } from './context.ts';
import { announceOrderChange, recordRefundEvent } from './events.ts';
import { type Order, type Refund, toOrder, toRefund } from './model.ts';
import { cacheOrder } from './payments.ts';
import { recordRefundReturns, refundSplitPlan, settleRefundReturns } from './refund-splits.ts';
import { recordReview } from './reviews.ts';
import { storeFailure } from './store-failure.ts';

export interface StartRefundRequest extends RefundInput {
  merchantId: string;
}

export interface StartedRefund {
  refund: Refund;
  order: Order;
  /**
   * False when this out_refund_no was asked for before: the same refund is returned, nothing new.
   * True for a new refund, and for a refused one reserved again.
   */
  created: boolean;
}

/** Reserves a refund (PROCESSING) for a paid order, or returns the one made earlier under the same number. */
export async function startRefund(
  context: ServiceContext,
  request: StartRefundRequest,
  withReservation?: WithChange<StartedRefund>,
): Promise<StartedRefund> {
  const params = validateRefundInput(request, context.rules.maxFen);
  const started = performance.now();
  try {
    const outcome = await context.store.db.transaction().execute(async (tx) => {
      const order = await lockOrder(tx, request.merchantId, params.outTradeNo);
      if (!order) throw new PayError(40005, { field: 'out_trade_no' });
      const existing = await findRefund(tx, request.merchantId, params.outRefundNo);
      if (existing) {
        if (existing.order_id !== order.id || existing.refund_fee !== params.refundFen) {
          throw new PayError(40001, {
            field: 'out_refund_no',
            message: 'out_refund_no is already used by a different refund; use a new out_refund_no',
            details: { outTradeNo: existing.out_trade_no, refundFen: existing.refund_fee },
          });
        }
        if (existing.status !== 'REFUSED')
          return { refund: toRefund(existing), order: toOrder(order), created: false };
      }
      if (!isPaid(order.status)) {
        throw new PayError(40001, {
          field: 'out_trade_no',
          message: `order is ${order.status}; only paid orders can be refunded`,
        });
      }
      const refundableFen = order.total_fee - (await heldRefundFen(tx, order.id));
      if (params.refundFen > refundableFen) {
        throw new PayError(40001, {
          field: 'refund_fee',
          message: `refund_fee ${params.refundFen} exceeds the refundable ${refundableFen} fen`,
          details: { refundableFen },
        });
      }
      // A split order refunds only what it holds unsplit, or takes the rest back from the splits.
      const splitReturns = await refundSplitPlan(context, tx, order, params.refundFen);
      if (existing) {
        // Refused by the gateway before: reserve the amount again and let the caller ask again.
        assertRefundMove(existing.status, 'PROCESSING');
        const reopened = await updateRefund(
          tx,
          existing,
          { status: 'PROCESSING', gateway_payload: null },
          context.now(),
        );
        if (!reopened) throw new PayError(40010, { message: 'the refund changed under its lock; retry' });
        await recordRefundReturns(context, tx, reopened, splitReturns);
        const again = { refund: toRefund(reopened), order: toOrder(order), created: true };
        await withReservation?.(tx, again);
        return again;
      }
      const refund = await insertRefund(tx, {
        order_id: order.id,
        merchant_id: request.merchantId,
        out_trade_no: order.out_trade_no,
        out_refund_no: params.outRefundNo,
        refund_fee: params.refundFen,
        total_fee: order.total_fee,
        reason: params.reason === null ? null : maskCardNumbers(params.reason),
        status: 'PROCESSING',
        create_date: context.now(),
        update_date: context.now(),
      });
      await recordRefundReturns(context, tx, refund, splitReturns);
      const reserved = { refund: toRefund(refund), order: toOrder(order), created: true };
      await withReservation?.(tx, reserved);
      return reserved;
    });
    await recordLog(context, {
      type: 'refund_start',
      status: 'SUCCESS',
      subjectKind: 'payment',
      merchantId: request.merchantId,
      outTradeNo: params.outTradeNo,
      provider: outcome.order.provider,
      amount: params.refundFen,
      responseMs: Math.round(performance.now() - started),
    });
    return outcome;
  } catch (error) {
    const payError = isPayError(error) ? error : refundInsertFailure(error);
    await recordError(context, payError, {
      subjectKind: 'payment',
      merchantId: request.merchantId,
      outTradeNo: params.outTradeNo,
      payload: { outRefundNo: params.outRefundNo },
    });
    await recordLog(context, {
      type: 'refund_start',
      status: 'ERROR',
      subjectKind: 'payment',
      merchantId: request.merchantId,
      outTradeNo: params.outTradeNo,
      amount: params.refundFen,
      error: { code: payError.code, message: payError.message },
      responseMs: Math.round(performance.now() - started),
    });
    throw payError;
  }
}

/** Two orders racing to use one out_refund_no: the loser hits the unique constraint. */
function refundInsertFailure(error: unknown): PayError {
  if ((error as { code?: unknown } | null)?.code === '23505') {
    return new PayError(40001, {
      field: 'out_refund_no',
      message: 'out_refund_no is already used by a different refund',
    });
  }
  return storeFailure(error);
}

export type RefundApplyOutcome =
  | { outcome: 'applied'; refund: Refund; order: Order }
  | { outcome: 'already_applied'; refund: Refund; order: Order }
  | { outcome: 'ignored'; refund: Refund; order: Order; reason: string };

/** Applies a gateway's word on a refund: the refund's status and, on success, the order's refunded total. */
export async function applyRefundResult(
  context: ServiceContext,
  result: RefundResult,
  withApplied?: WithChange<{ refund: Refund; order: Order }>,
): Promise<RefundApplyOutcome> {
  const started = performance.now();
  try {
    const outcome = await context.store.db.transaction().execute(async (tx): Promise<RefundApplyOutcome> => {
      const found = await findRefund(tx, result.merchantId, result.outRefundNo);
      if (!found)
        throw new PayError(40005, {
          field: 'out_refund_no',
          message: `refund ${result.outRefundNo} not found`,
        });
      // Always the order first, then the refund: the same order as startRefund, so no deadlock.
      const orderRow = (await lockOrderById(tx, found.order_id))!;
      const refundRow = (await lockRefund(tx, found.id))!;
      if (orderRow.provider !== result.provider) {
        throw new PayError(40002, {
          field: 'provider',
          message: `a ${result.provider} result cannot settle a ${orderRow.provider} refund`,
        });
      }
      if (
        result.refundFen !== undefined &&
        result.refundFen !== null &&
        result.refundFen !== refundRow.refund_fee
      ) {
        throw new PayError(40001, {
          field: 'refund_fee',
          message: `refunded amount ${result.refundFen} fen does not match refund ${refundRow.out_refund_no} of ${refundRow.refund_fee} fen`,
        });
      }
      if (refundRow.status === result.status) {
        return { outcome: 'already_applied', refund: toRefund(refundRow), order: toOrder(orderRow) };
      }
      if (refundRow.status === 'REFUSED' && result.status === 'SUCCESS') {
        // The refusal freed the amount; the gateway's later SUCCESS takes it again, if it is still there.
        const refundableFen = orderRow.total_fee - (await heldRefundFen(tx, orderRow.id));
        if (refundRow.refund_fee > refundableFen) {
          const reviewId = await recordReview(
            context,
            {
              merchantId: refundRow.merchant_id,
              kind: 'refund_conflict',
              reference: refundRow.out_refund_no,
              outTradeNo: refundRow.out_trade_no,
              provider: result.provider,
              amountFen: refundRow.refund_fee,
              details: { refundableFen, refundId: result.refundId ?? null, source: result.source },
            },
            tx,
          );
          return {
            outcome: 'ignored',
            refund: toRefund(refundRow),
            order: toOrder(orderRow),
            reason: `refund ${refundRow.out_refund_no} was refused here, then the gateway reported it refunded, but only ${refundableFen} fen is still refundable: review ${reviewId}`,
          };
        }
      }
      if (!canMoveRefund(refundRow.status, result.status)) {
        return {
          outcome: 'ignored',
          refund: toRefund(refundRow),
          order: toOrder(orderRow),
          reason: `refund is ${refundRow.status}; ${result.status} does not apply`,
        };
      }
      const refund = await updateRefund(
        tx,
        refundRow,
        {
          status: result.status,
          refund_id: result.refundId ?? refundRow.refund_id,
          success_time: result.status === 'SUCCESS' ? (result.successTime ?? context.now()) : null,
          gateway_payload: JSON.stringify(result.raw ?? null),
        },
        context.now(),
      );
      if (!refund) throw new PayError(40010, { message: 'the refund changed under its lock; retry' });
      await settleRefundReturns(context, tx, refund, orderRow);
      let order = orderRow;
      if (result.status === 'SUCCESS') {
        const refundedFen = orderRow.refunded_fee + refund.refund_fee;
        const moved = await updateOrder(
          tx,
          orderRow,
          { status: statusAfterRefunds(orderRow.total_fee, refundedFen), refunded_fee: refundedFen },
          context.now(),
        );
        if (!moved) throw new PayError(40010, { message: 'the order changed under its lock; retry' });
        order = moved;
      }
      if (result.status === 'ABNORMAL') {
        await recordReview(
          context,
          {
            merchantId: refund.merchant_id,
            kind: 'refund_abnormal',
            reference: refund.out_refund_no,
            outTradeNo: refund.out_trade_no,
            provider: result.provider,
            amountFen: refund.refund_fee,
            details: { refundId: refund.refund_id, source: result.source },
          },
          tx,
          { reopen: true },
        );
      }
      if (result.eventId) {
        await insertNotifyEvent(tx, {
          provider: result.provider,
          eventId: result.eventId,
          subjectKind: 'payment',
          merchantId: refund.merchant_id,
          outTradeNo: refund.out_trade_no,
          payload: result.raw ?? null,
          result: `refund_${result.status.toLowerCase()}`,
        });
      }
      const applied = { outcome: 'applied', refund: toRefund(refund), order: toOrder(order) } as const;
      await recordRefundEvent(context, tx, applied.refund, applied.order);
      await withApplied?.(tx, applied);
      return applied;
    });
    if (outcome.outcome === 'applied') {
      await cacheOrder(context, outcome.order);
      announceOrderChange(context, outcome.order.merchantId, outcome.order.outTradeNo);
      context.webhooks.wake();
    }
    await recordLog(context, {
      type: `refund_${result.source}`,
      status: 'SUCCESS',
      subjectKind: 'payment',
      merchantId: result.merchantId,
      outTradeNo: outcome.refund.outTradeNo,
      provider: result.provider,
      amount: outcome.refund.refundFen,
      responseMs: Math.round(performance.now() - started),
    });
    return outcome;
  } catch (error) {
    const payError = isPayError(error) ? error : storeFailure(error);
    await recordError(context, payError, {
      subjectKind: 'payment',
      merchantId: result.merchantId,
      provider: result.provider,
      payload: { outRefundNo: result.outRefundNo },
    });
    await recordLog(context, {
      type: `refund_${result.source}`,
      status: 'ERROR',
      subjectKind: 'payment',
      merchantId: result.merchantId,
      provider: result.provider,
      error: { code: payError.code, message: payError.message },
      responseMs: Math.round(performance.now() - started),
    });
    throw payError;
  }
}

/** Every refund of an order, oldest first. */
export async function listOrderRefunds(context: ServiceContext, order: Order): Promise<Refund[]> {
  return (await listRefunds(context.store.db, order.id)).map(toRefund);
}
