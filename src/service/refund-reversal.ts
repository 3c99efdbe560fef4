/**
 * A refund the gateway took back (the App Store's REFUND_REVERSED): the refund moves SUCCESS ->
 * REVERSED and stops counting as refunded, the order goes back to paid (or partly refunded when
 * other refunds remain) along the state machine's reversal edges, and `refund.reversed` is written
 * in the same transaction, so the merchant grants the purchase again. Applied once: the refund's
 * conditional move decides, a repeat finds it REVERSED already.
 */
import { isPayError, PayError } from '../core/errors.ts';
import { assertRefundMove, canReverseRefund, statusAfterRefunds } from '../core/states.ts';
import { lockOrderById, updateOrder } from '../store/orders.ts';
import { findRefund, lockRefund, updateRefund } from '../store/refunds.ts';
import { recordError, recordLog, type ServiceContext } from './context.ts';
import { announceOrderChange, recordRefundEvent } from './events.ts';
import { type Order, type Refund, toOrder, toRefund } from './model.ts';
import { cacheOrder } from './payments.ts';
import { storeFailure } from './store-failure.ts';

export interface RefundReversal {
  merchantId: string;
  provider: string;
  outRefundNo: string;
  raw?: unknown;
}

export type ReversalOutcome =
  | { outcome: 'applied' | 'already_applied'; refund: Refund; order: Order }
  /** No such refund (yet), or one not settled as refunded: nothing to reverse. */
  | { outcome: 'absent' }
  | { outcome: 'ignored'; refund: Refund; order: Order; reason: string };

export async function reverseRefund(
  context: ServiceContext,
  input: RefundReversal,
): Promise<ReversalOutcome> {
  const started = performance.now();
  try {
    const outcome = await context.store.db.transaction().execute(async (tx): Promise<ReversalOutcome> => {
      const found = await findRefund(tx, input.merchantId, input.outRefundNo);
      if (!found) return { outcome: 'absent' };
      // The order first, then the refund, as every refund change locks them.
      const orderRow = (await lockOrderById(tx, found.order_id))!;
      const refundRow = (await lockRefund(tx, found.id))!;
      if (orderRow.provider !== input.provider)
        throw new PayError(40002, {
          field: 'provider',
          message: `a ${input.provider} reversal cannot settle a ${orderRow.provider} refund`,
        });
      if (refundRow.status === 'REVERSED')
        return { outcome: 'already_applied', refund: toRefund(refundRow), order: toOrder(orderRow) };
      if (refundRow.status !== 'SUCCESS')
        return {
          outcome: 'ignored',
          refund: toRefund(refundRow),
          order: toOrder(orderRow),
          reason: `refund is ${refundRow.status}; only a refund that succeeded is reversed`,
        };
      assertRefundMove(refundRow.status, 'REVERSED');
      const refundedFen = orderRow.refunded_fee - refundRow.refund_fee;
      const target = statusAfterRefunds(orderRow.total_fee, refundedFen);
      if (refundedFen < 0 || !canReverseRefund(orderRow.status, target))
        throw new PayError(40006, {
          field: 'status',
          message: `order is ${orderRow.status} with ${orderRow.refunded_fee} fen refunded; the reversal of ${refundRow.refund_fee} fen does not apply`,
        });
      const refund = await updateRefund(
        tx,
        refundRow,
        { status: 'REVERSED', gateway_payload: JSON.stringify(input.raw ?? null) },
        context.now(),
      );
      if (!refund) throw new PayError(40010, { message: 'the refund changed under its lock; retry' });
      const order = await updateOrder(
        tx,
        orderRow,
        { status: target, refunded_fee: refundedFen },
        context.now(),
      );
      if (!order) throw new PayError(40010, { message: 'the order changed under its lock; retry' });
      const applied = { outcome: 'applied', refund: toRefund(refund), order: toOrder(order) } as const;
      await recordRefundEvent(context, tx, applied.refund, applied.order);
      return applied;
    });
    if (outcome.outcome === 'applied') {
      await cacheOrder(context, outcome.order);
      announceOrderChange(context, outcome.order.merchantId, outcome.order.outTradeNo);
      context.webhooks.wake();
    }
    if (outcome.outcome !== 'absent')
      await recordLog(context, {
        type: 'refund_reversed',
        status: 'SUCCESS',
        subjectKind: 'payment',
        merchantId: input.merchantId,
        outTradeNo: outcome.refund.outTradeNo,
        provider: input.provider,
        amount: outcome.refund.refundFen,
        responseMs: Math.round(performance.now() - started),
      });
    return outcome;
  } catch (error) {
    const payError = isPayError(error) ? error : storeFailure(error);
    await recordError(context, payError, {
      subjectKind: 'payment',
      merchantId: input.merchantId,
      provider: input.provider,
      payload: { outRefundNo: input.outRefundNo },
    });
    throw payError;
  }
}
