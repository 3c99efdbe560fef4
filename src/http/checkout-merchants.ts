/**
 * What the cashier knows of a checkout's merchant from the API apps' configuration: who the buyer
 * pays (name, logo), and which web origins may call the checkout's status and pay endpoints
 * (CORS). Kept per VkPay instance, as the checkout runtime is, so the pages and the status read it
 * without a new field on the library object.
 */
import type { ApiApp, Payee } from '../config/security.ts';

export interface CheckoutMerchants {
  /** The payee of the merchant's own app that names one, or null. */
  payeeOf(merchantId: string): Payee | null;
  /** Every origin listed by an app that acts for the merchant (its own, or through `merchants`). */
  originsOf(merchantId: string): ReadonlySet<string>;
}

const settings = new WeakMap<object, CheckoutMerchants>();
const NONE: ReadonlySet<string> = new Set();

export function configureCheckoutMerchants(owner: object, apps: readonly ApiApp[]): CheckoutMerchants {
  const payees = new Map<string, Payee>();
  const origins = new Map<string, Set<string>>();
  for (const app of apps) {
    if (app.payee && !payees.has(app.merchantId)) payees.set(app.merchantId, app.payee);
    for (const merchantId of [app.merchantId, ...(app.merchants ?? [])]) {
      for (const origin of app.corsOrigins ?? []) {
        const set = origins.get(merchantId) ?? new Set<string>();
        set.add(origin);
        origins.set(merchantId, set);
      }
    }
  }
  const merchants: CheckoutMerchants = {
    payeeOf: (merchantId) => payees.get(merchantId) ?? null,
    originsOf: (merchantId) => origins.get(merchantId) ?? NONE,
  };
  settings.set(owner, merchants);
  return merchants;
}

/** The owner's settings; none configured: no payee and no cross-origin caller. */
export function checkoutMerchants(owner: object): CheckoutMerchants {
  return settings.get(owner) ?? configureCheckoutMerchants(owner, []);
}
