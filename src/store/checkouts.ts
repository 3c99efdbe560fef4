/**
 * Reads and writes of checkouts: one row per checkout issued, whose lock the buyer's choice and the
 * merchant's cancellation both take.
 */
import type { Kysely, Transaction } from 'kysely';
import type { CheckoutRow, Database } from './schema.ts';

type Db = Kysely<Database> | Transaction<Database>;

/**
 * Records a checkout (or finds it, keeping the later expiry) and holds its row lock until the
 * transaction ends: the insert or the update takes the lock, and waits for anyone holding it.
 */
export async function upsertCheckout(
  db: Db,
  merchantId: string,
  outTradeNo: string,
  expiresAt: Date,
  now: Date,
): Promise<CheckoutRow> {
  return db
    .insertInto('checkouts')
    .values({
      merchant_id: merchantId,
      out_trade_no: outTradeNo,
      expires_at: expiresAt,
      create_date: now,
      update_date: now,
    })
    .onConflict((conflict) =>
      conflict.columns(['merchant_id', 'out_trade_no']).doUpdateSet((eb) => ({
        expires_at: eb.fn('greatest', ['checkouts.expires_at', 'excluded.expires_at']),
        update_date: now,
      })),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function findCheckout(
  db: Db,
  merchantId: string,
  outTradeNo: string,
): Promise<CheckoutRow | undefined> {
  return db
    .selectFrom('checkouts')
    .selectAll()
    .where('merchant_id', '=', merchantId)
    .where('out_trade_no', '=', outTradeNo)
    .executeTakeFirst();
}

/** Reads the checkout and holds its row lock until the transaction ends. */
export async function lockCheckout(
  tx: Transaction<Database>,
  merchantId: string,
  outTradeNo: string,
): Promise<CheckoutRow | undefined> {
  return tx
    .selectFrom('checkouts')
    .selectAll()
    .where('merchant_id', '=', merchantId)
    .where('out_trade_no', '=', outTradeNo)
    .forUpdate()
    .executeTakeFirst();
}

export async function markCheckoutCancelled(
  tx: Transaction<Database>,
  merchantId: string,
  outTradeNo: string,
  now: Date,
): Promise<CheckoutRow> {
  return tx
    .updateTable('checkouts')
    .set({ cancelled_at: now, update_date: now })
    .where('merchant_id', '=', merchantId)
    .where('out_trade_no', '=', outTradeNo)
    .returningAll()
    .executeTakeFirstOrThrow();
}
