/**
 * Run-time changes of routes: a share stored over the config file's (a rollback stores 0) or
 * removed again (the file's in force), shared by every instance through the database, each
 * instance's copy dropped on the change's announcement through the cache (Redis pub/sub across
 * instances), so new payments follow it within a second. Every change is kept with who made it and
 * the share before and after.
 */
import type { Transaction } from 'kysely';
import { PayError } from '../core/errors.ts';
import { isPaid } from '../core/states.ts';
import type { Database } from '../store/schema.ts';
import type { ServiceContext } from './context.ts';
import { closePayment } from './payment-flow.ts';
import { recordReview } from './reviews.ts';
import type { Route } from './routing.ts';
import { storeFailure } from './store-failure.ts';

export const ROUTES_CHANNEL = 'routes:changed';

/** How long an instance trusts its copy even without an announcement (a missed message heals). */
const LOCAL_TTL_MS = 5_000;

interface LocalCopy {
  shares: Map<string, number>;
  loadedAt: number;
}

const copies = new WeakMap<ServiceContext, Map<string, LocalCopy>>();

function copiesOf(context: ServiceContext): Map<string, LocalCopy> {
  let local = copies.get(context);
  if (!local) {
    local = new Map();
    copies.set(context, local);
  }
  return local;
}

/** Subscribes this instance to route changes; returns the unsubscribe. */
export async function watchRouteChanges(context: ServiceContext): Promise<() => void> {
  return context.cache.subscribe(ROUTES_CHANNEL, (merchantId) => {
    copiesOf(context).delete(merchantId);
  });
}

/** A merchant's stored shares by route id, from this instance's copy while it is fresh. */
export async function shareOverrides(
  context: ServiceContext,
  merchantId: string,
): Promise<ReadonlyMap<string, number>> {
  if (!context.routes.has(merchantId)) return new Map();
  const local = copiesOf(context);
  const copy = local.get(merchantId);
  if (copy && Date.now() - copy.loadedAt < LOCAL_TTL_MS) return copy.shares;
  const rows = await context.store.db
    .selectFrom('route_overrides')
    .select(['route_id', 'share'])
    .where('merchant_id', '=', merchantId)
    .execute()
    .catch((error) => {
      throw storeFailure(error);
    });
  const shares = new Map(rows.map((row) => [row.route_id, Number(row.share)]));
  local.set(merchantId, { shares, loadedAt: Date.now() });
  return shares;
}

export interface RouteState extends Route {
  /** The share in force: the stored one when there is one, else the file's. */
  effectiveShare: number;
  overridden: boolean;
}

function routeOf(context: ServiceContext, merchantId: string, routeId: string): Route {
  const route = context.routes.get(merchantId)?.find((candidate) => candidate.id === routeId);
  if (!route)
    throw new PayError(40005, {
      field: 'route',
      message: `merchant ${merchantId} has no route ${JSON.stringify(routeId.slice(0, 64))}`,
    });
  return route;
}

/** The merchant's routes in the config file's order, each with the share in force. */
export async function listRoutes(context: ServiceContext, merchantId: string): Promise<RouteState[]> {
  const shares = await shareOverrides(context, merchantId);
  return (context.routes.get(merchantId) ?? []).map((route) => {
    const stored = shares.get(route.id);
    return { ...route, effectiveShare: stored ?? route.share, overridden: stored !== undefined };
  });
}

/** A share the hash can honour: a percent from 0 to 100 in steps of 0.01 (one bucket). */
function isShare(share: number): boolean {
  return (
    Number.isFinite(share) &&
    share >= 0 &&
    share <= 100 &&
    Math.abs(share * 100 - Math.round(share * 100)) <= 1e-6
  );
}

/** The share in force before a change and after it. */
export interface ShareChange {
  before: number;
  after: number;
}

/** More writes in the change's own transaction (the console's audit row): both commit, or neither. */
export type WithinShareChange = (tx: Transaction<Database>, change: ShareChange) => Promise<void>;

/** Stores a route's share, records the change, and announces it to every instance. */
export async function setRouteShare(
  context: ServiceContext,
  merchantId: string,
  routeId: string,
  share: number,
  changedBy: string,
  within?: WithinShareChange,
): Promise<RouteState> {
  const route = routeOf(context, merchantId, routeId);
  if (!isShare(share))
    throw new PayError(40001, {
      field: 'share',
      message: 'share must be a percent from 0 to 100, in steps of 0.01',
    });
  const now = context.now();
  await context.store.db
    .transaction()
    .execute(async (tx) => {
      const before = await tx
        .selectFrom('route_overrides')
        .select('share')
        .where('merchant_id', '=', merchantId)
        .where('route_id', '=', routeId)
        .forUpdate()
        .executeTakeFirst();
      await tx
        .insertInto('route_overrides')
        .values({ merchant_id: merchantId, route_id: routeId, share, updated_by: changedBy, updated_at: now })
        .onConflict((conflict) =>
          conflict
            .columns(['merchant_id', 'route_id'])
            .doUpdateSet({ share, updated_by: changedBy, updated_at: now }),
        )
        .execute();
      await tx
        .insertInto('route_override_changes')
        .values({
          merchant_id: merchantId,
          route_id: routeId,
          share_before: before ? Number(before.share) : null,
          share_after: share,
          changed_by: changedBy,
          changed_at: now,
        })
        .execute();
      if (within) await within(tx, { before: before ? Number(before.share) : route.share, after: share });
    })
    .catch((error) => {
      throw storeFailure(error);
    });
  copiesOf(context).delete(merchantId);
  await context.cache.publish(ROUTES_CHANNEL, merchantId);
  return { ...route, effectiveShare: share, overridden: true };
}

/**
 * Removes a route's stored share, so the config file's is in force again on every instance; the
 * change is recorded like a set (share after: null, the file's). Without a stored share nothing
 * changes and nothing is recorded.
 */
export async function clearRouteShare(
  context: ServiceContext,
  merchantId: string,
  routeId: string,
  changedBy: string,
): Promise<RouteState> {
  const route = routeOf(context, merchantId, routeId);
  const now = context.now();
  const removed = await context.store.db
    .transaction()
    .execute(async (tx) => {
      const before = await tx
        .deleteFrom('route_overrides')
        .where('merchant_id', '=', merchantId)
        .where('route_id', '=', routeId)
        .returning('share')
        .executeTakeFirst();
      if (!before) return false;
      await tx
        .insertInto('route_override_changes')
        .values({
          merchant_id: merchantId,
          route_id: routeId,
          share_before: Number(before.share),
          share_after: null,
          changed_by: changedBy,
          changed_at: now,
        })
        .execute();
      return true;
    })
    .catch((error) => {
      throw storeFailure(error);
    });
  if (removed) {
    copiesOf(context).delete(merchantId);
    await context.cache.publish(ROUTES_CHANNEL, merchantId);
  }
  return { ...route, effectiveShare: route.share, overridden: false };
}

export interface RollbackReport {
  route: RouteState;
  /** Unpaid canary orders closed at their gateway. */
  closed: number;
  /** Canary orders found paid while closing: they stay valid. */
  paid: number;
  /** Closes that failed, each with a review opened. */
  reviewed: number;
}

/**
 * Sends every new payment of the route to its stable account (share 0 on every instance), then
 * closes the canary side's unpaid orders at their gateway through their own account. A close that
 * fails opens a review; paid orders stay valid and refund through the account that took them.
 */
export async function rollbackRoute(
  context: ServiceContext,
  merchantId: string,
  routeId: string,
  changedBy: string,
  within?: WithinShareChange,
): Promise<RollbackReport> {
  const route = await setRouteShare(context, merchantId, routeId, 0, changedBy, within);
  const report: RollbackReport = { route, closed: 0, paid: 0, reviewed: 0 };
  const open = await context.store.db
    .selectFrom('payment_orders')
    .select(['out_trade_no', 'provider', 'total_fee', 'status'])
    .where('merchant_id', '=', merchantId)
    .where('route', '=', routeId)
    .where('variant', '=', 'canary')
    .where('status', 'in', ['NOTPAY', 'USERPAYING', 'FAILED'])
    .execute()
    .catch((error) => {
      throw storeFailure(error);
    });
  for (const order of open) {
    try {
      const closed = await closePayment(context, merchantId, order.out_trade_no);
      if (isPaid(closed.status)) report.paid += 1;
      else report.closed += 1;
    } catch (error) {
      if (error instanceof PayError && error.code === 40006) {
        report.paid += 1;
        continue;
      }
      const payError = error instanceof PayError ? error : storeFailure(error);
      await recordReview(context, {
        merchantId,
        kind: 'rollback_close_failed',
        reference: order.out_trade_no,
        outTradeNo: order.out_trade_no,
        provider: order.provider,
        amountFen: order.total_fee,
        details: {
          route: routeId,
          code: payError.code,
          gatewayCode: payError.gatewayCode ?? null,
          message: payError.message,
        },
      });
      report.reviewed += 1;
    }
  }
  return report;
}
