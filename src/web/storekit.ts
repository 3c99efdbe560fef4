/**
 * Apple in-app purchase in the client: what StoreKit's purchase takes from an `appleiap` payment
 * (the product id, and the appAccountToken purchase option that ties the transaction to the
 * order). The app buys with StoreKit, then hands the transaction back with
 * `client.handOverPurchase`.
 */
import type { ClientPayParams, PaymentStart } from './types.ts';

export interface StoreKitPurchase {
  productId: string;
  /** Pass as StoreKit 2's `.appAccountToken(UUID(uuidString:))` purchase option. */
  appAccountToken: string;
}

/** The StoreKit purchase an Apple IAP payment asks for; null for any other payment. */
export function storeKitPurchase(start: PaymentStart | ClientPayParams): StoreKitPurchase | null {
  const payment = ('payment' in start ? start.payment : start) as Record<string, unknown>;
  if (payment?.scene !== 'app') return null;
  const { productId, appAccountToken } = payment;
  if (typeof productId !== 'string' || typeof appAccountToken !== 'string') return null;
  return { productId, appAccountToken };
}
