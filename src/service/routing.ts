/**
 * Routes: which of a merchant's gateway accounts takes a new payment. A route matches on provider,
 * scene, order type and client platform, and sends `share` percent of payers to its canary account
 * and the rest to its stable one, by a stable hash of the payer, so one payer always lands on the
 * same side and raising the share only moves payers from stable to canary. Pure: no I/O, no clock.
 */
import { createHash } from 'node:crypto';

export interface RouteMatch {
  provider?: string;
  scene?: string;
  type?: string;
  platform?: string;
}

export interface Route {
  id: string;
  match: RouteMatch;
  stable: string;
  canary: string;
  /** Percent of payers on the canary account, 0..100 (fractions allowed down to 0.01). */
  share: number;
  /** Roll the route back by itself when its canary side fails clearly more than its stable side. */
  autoRollback?: AutoRollbackRule;
}

/**
 * The automatic rollback of a route: over the last `windowMs` (since the route's last share change
 * at most), when the canary side made at least `minPayments` payments and its error rate exceeds
 * the stable side's by more than `margin` (0.05 = 5 percentage points).
 */
export interface AutoRollbackRule {
  margin: number;
  minPayments: number;
  windowMs: number;
}

export type Variant = 'stable' | 'canary';

export interface RouteChoice {
  account: string;
  /** The route that chose, and its side; null when no route matched (the `default` account). */
  route: string | null;
  variant: Variant | null;
}

export interface RoutedPayment {
  provider: string;
  scene: string;
  type: string;
  platform?: string | null;
  userId?: string | null;
  outTradeNo: string;
}

/** Buckets of the hash: a share is compared in hundredths of a percent. */
export const BUCKETS = 10_000;

/** The payer's bucket for a route, 0..9999: sha256 of the route id and the payer's key. */
export function bucketOf(routeId: string, payerKey: string): number {
  const digest = createHash('sha256').update(routeId).update('\0').update(payerKey).digest();
  return digest.readUInt32BE(0) % BUCKETS;
}

function matches(match: RouteMatch, payment: RoutedPayment): boolean {
  return (
    (match.provider === undefined || match.provider === payment.provider) &&
    (match.scene === undefined || match.scene === payment.scene) &&
    (match.type === undefined || match.type === payment.type) &&
    (match.platform === undefined || match.platform === (payment.platform ?? undefined))
  );
}

/**
 * The first route that matches the payment decides; `shares` holds overrides of a route's share by
 * id (a rollback sets 0). Payers without a user id are hashed by their order number.
 */
export function chooseAccount(
  routes: readonly Route[],
  payment: RoutedPayment,
  shares: ReadonlyMap<string, number> = new Map(),
): RouteChoice {
  const route = routes.find((candidate) => matches(candidate.match, payment));
  if (!route) return { account: 'default', route: null, variant: null };
  const share = shares.get(route.id) ?? route.share;
  const payerKey = payment.userId ? `user:${payment.userId}` : `order:${payment.outTradeNo}`;
  const canary = bucketOf(route.id, payerKey) < Math.round(share * 100);
  return canary
    ? { account: route.canary, route: route.id, variant: 'canary' }
    : { account: route.stable, route: route.id, variant: 'stable' };
}
