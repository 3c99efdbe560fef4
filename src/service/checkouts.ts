/**
 * Checkouts: issuing records one, the buyer's choice claims it (in the transaction that creates the
 * order), and the merchant may cancel it. Both the claim and the cancel take the checkout's row
 * lock, so a cancel racing the buyer's choice ends one way only: cancelled with no order, or an
 * order (which the merchant then closes like any other).
 */
import type { Transaction } from 'kysely';
import { PayError } from '../core/errors.ts';
import { findCheckout, lockCheckout, markCheckoutCancelled, upsertCheckout } from '../store/checkouts.ts';
import { findOrder } from '../store/orders.ts';
import type { Database } from '../store/schema.ts';
import type { ServiceContext } from './context.ts';
import { storeFailure } from './store-failure.ts';

export interface CheckoutCancellation {
  outTradeNo: string;
  cancelledAt: Date;
}

function cancelledError(outTradeNo: string): PayError {
  return new PayError(40001, {
    field: 'out_trade_no',
    message: `the merchant cancelled checkout ${outTradeNo}`,
    details: { status: 'CLOSED', cancelled: true },
  });
}

/** Records an issued checkout; a number whose checkout was cancelled is refused. */
export async function recordCheckout(
  context: ServiceContext,
  merchantId: string,
  outTradeNo: string,
  expiresAt: Date,
): Promise<void> {
  const row = await upsertCheckout(context.store.db, merchantId, outTradeNo, expiresAt, context.now()).catch(
    (error) => {
      throw storeFailure(error);
    },
  );
  if (row.cancelled_at) throw cancelledError(outTradeNo);
}

/**
 * The buyer's choice, inside the transaction that inserts the order: waits for a cancel holding
 * the row, and refuses once the checkout is cancelled.
 */
export async function claimCheckout(
  tx: Transaction<Database>,
  merchantId: string,
  outTradeNo: string,
  expiresAt: Date,
  now: Date,
): Promise<void> {
  const row = await upsertCheckout(tx, merchantId, outTradeNo, expiresAt, now);
  if (row.cancelled_at) throw cancelledError(outTradeNo);
}

/** When the merchant cancelled the checkout before the buyer chose, or null. */
export async function checkoutCancellation(
  context: ServiceContext,
  merchantId: string,
  outTradeNo: string,
): Promise<CheckoutCancellation | null> {
  const row = await findCheckout(context.store.db, merchantId, outTradeNo).catch((error) => {
    throw storeFailure(error);
  });
  return row?.cancelled_at ? { outTradeNo, cancelledAt: new Date(row.cancelled_at) } : null;
}

/**
 * Cancels a checkout the buyer has not chosen a method for: marked cancelled, no order can be made
 * for it. Null when there is no such checkout or the buyer already chose (the caller then closes
 * the order, as POST /api/payments/:no/close does).
 */
export async function cancelUnchosenCheckout(
  context: ServiceContext,
  merchantId: string,
  outTradeNo: string,
): Promise<CheckoutCancellation | null> {
  return context.store.db
    .transaction()
    .execute(async (tx) => {
      const checkout = await lockCheckout(tx, merchantId, outTradeNo);
      if (!checkout) return null;
      if (checkout.cancelled_at) return { outTradeNo, cancelledAt: new Date(checkout.cancelled_at) };
      // Under the lock: a buyer's choice either committed its order before us, or waits and then sees
      // the cancellation.
      if (await findOrder(tx, merchantId, outTradeNo)) return null;
      const row = await markCheckoutCancelled(tx, merchantId, outTradeNo, context.now());
      return { outTradeNo, cancelledAt: new Date(row.cancelled_at!) };
    })
    .catch((error) => {
      throw storeFailure(error);
    });
}

/** A checkout's row outlives its link's read grace (24 h) by a day, then goes unless cancelled. */
const CHECKOUT_RETENTION_MS = 2 * 24 * 3600_000;

/**
 * Deletes the rows of expired checkouts that were never cancelled: the order (if any) holds their
 * number from then on. A cancelled row stays, as a closed order does, so the number stays refused.
 */
export async function pruneCheckouts(context: ServiceContext): Promise<number> {
  const before = new Date(context.now().getTime() - CHECKOUT_RETENTION_MS);
  const result = await context.store.db
    .deleteFrom('checkouts')
    .where('cancelled_at', 'is', null)
    .where('expires_at', '<', before)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
