/**
 * Watching a gray release: each route's stable and canary sides side by side (payments, errors,
 * gateway latency, conversion), and the automatic rollback of a route whose canary side fails
 * clearly more than its stable side, once however many instances watch.
 */
import { type RawBuilder, sql } from 'kysely';
import type { ServiceContext } from './context.ts';
import { runEvery } from './jobs.ts';
import {
  type AlertMessage,
  CALLER_ERROR_CODES,
  type RouteRollbackAlertMessage,
  type VariantErrorRate,
} from './monitoring.ts';
import { type RollbackReport, rollbackRoute } from './route-overrides.ts';
import type { Route, Variant } from './routing.ts';
import { storeFailure } from './store-failure.ts';

const VARIANTS: readonly Variant[] = ['stable', 'canary'];

export interface VariantStats {
  /** The account the config file gives this side; null for a route no longer configured. */
  account: string | null;
  orders: {
    created: number;
    /** Paid, refunded in part or in full. */
    paid: number;
    closed: number;
    /** paid / created: how many of the side's orders the payers paid; null without orders. */
    conversion: number | null;
  };
  payments: {
    /** Payments created at the gateway (create calls). */
    calls: number;
    succeeded: number;
    /** Failed for the system's reasons (not the caller's: see CALLER_ERROR_CODES). */
    errors: number;
    successRate: number | null;
    errorRate: number | null;
  };
  /** Every gateway call of the side's orders (create, query, close, refund). */
  gateway: { calls: number; p95Ms: number | null };
}

export interface RouteStats {
  merchantId: string;
  route: string;
  /** False for a route the orders name that the config file no longer has. */
  configured: boolean;
  stable: VariantStats;
  canary: VariantStats;
}

const ratio = (part: number, whole: number) => (whole > 0 ? part / whole : null);

/** A gateway call that failed for the system's reasons, as the error-rate alert counts it. */
function systemError(): RawBuilder<boolean> {
  return sql<boolean>`status = 'ERROR' and coalesce(error->>'code', '') not in (${sql.join(
    CALLER_ERROR_CODES.map(String),
  )})`;
}

function emptySide(account: string | null): VariantStats {
  return {
    account,
    orders: { created: 0, paid: 0, closed: 0, conversion: null },
    payments: { calls: 0, succeeded: 0, errors: 0, successRate: null, errorRate: null },
    gateway: { calls: 0, p95Ms: null },
  };
}

/**
 * Every configured route (and any route the window's orders name) with its two sides over the
 * orders created and the gateway calls logged in [from, to).
 */
export async function routeStats(
  context: ServiceContext,
  window: { from: Date; to: Date },
): Promise<RouteStats[]> {
  const { db } = context.store;
  const [orders, calls] = await Promise.all([
    sql<{
      merchant_id: string;
      route: string;
      variant: string;
      created: number;
      paid: number;
      closed: number;
    }>`
      select merchant_id, route, variant, count(*)::int as created,
        (count(*) filter (where status in ('SUCCESS', 'PARTIAL_REFUNDED', 'REFUNDED')))::int as paid,
        (count(*) filter (where status = 'CLOSED'))::int as closed
      from payment_orders
      where route is not null and create_date >= ${window.from} and create_date < ${window.to}
      group by 1, 2, 3`.execute(db),
    sql<{
      merchant_id: string;
      route: string;
      variant: string;
      creates: number;
      succeeded: number;
      errors: number;
      calls: number;
      p95_ms: number | null;
    }>`
      select merchant_id, route, variant,
        (count(*) filter (where type = 'create'))::int as creates,
        (count(*) filter (where type = 'create' and status = 'SUCCESS'))::int as succeeded,
        (count(*) filter (where type = 'create' and ${systemError()}))::int as errors,
        count(*)::int as calls,
        (percentile_cont(0.95) within group (order by response_ms))::float8 as p95_ms
      from payment_logs
      where route is not null and create_date >= ${window.from} and create_date < ${window.to}
      group by 1, 2, 3`.execute(db),
  ]).catch((error) => {
    throw storeFailure(error);
  });
  const byKey = new Map<string, RouteStats>();
  const entry = (merchantId: string, routeId: string, route?: Route): RouteStats => {
    const key = JSON.stringify([merchantId, routeId]);
    let stats = byKey.get(key);
    if (!stats) {
      stats = {
        merchantId,
        route: routeId,
        configured: route !== undefined,
        stable: emptySide(route?.stable ?? null),
        canary: emptySide(route?.canary ?? null),
      };
      byKey.set(key, stats);
    }
    return stats;
  };
  for (const [merchantId, routes] of context.routes)
    for (const route of routes) entry(merchantId, route.id, route);
  const side = (row: { merchant_id: string; route: string; variant: string }) =>
    VARIANTS.includes(row.variant as Variant)
      ? entry(row.merchant_id, row.route)[row.variant as Variant]
      : null;
  for (const row of orders.rows) {
    const stats = side(row);
    if (!stats) continue;
    stats.orders = {
      created: row.created,
      paid: row.paid,
      closed: row.closed,
      conversion: ratio(row.paid, row.created),
    };
  }
  for (const row of calls.rows) {
    const stats = side(row);
    if (!stats) continue;
    stats.payments = {
      calls: row.creates,
      succeeded: row.succeeded,
      errors: row.errors,
      successRate: ratio(row.succeeded, row.creates),
      errorRate: ratio(row.errors, row.creates),
    };
    stats.gateway = {
      calls: row.calls,
      p95Ms: row.p95_ms === null ? null : Math.round(Number(row.p95_ms)),
    };
  }
  return [...byKey.values()];
}

export interface AutoRollbackCheck {
  merchantId: string;
  route: string;
  stable: VariantErrorRate;
  canary: VariantErrorRate;
  /** The canary side failed more than the rule allows. */
  exceeded: boolean;
  /** This instance rolled the route back (another one may have, under the same lock). */
  rolledBack: RollbackReport | null;
}

/** How long one instance holds a route's rollback: the others skip it meanwhile. */
const ROLLBACK_LOCK_MS = 60_000;

/** The share in force, read from the store itself (a copy may be a moment behind another instance). */
async function storedShare(context: ServiceContext, merchantId: string, route: Route): Promise<number> {
  const row = await context.store.db
    .selectFrom('route_overrides')
    .select('share')
    .where('merchant_id', '=', merchantId)
    .where('route_id', '=', route.id)
    .executeTakeFirst();
  return row ? Number(row.share) : route.share;
}

/** Create calls and system errors per side since `since`. */
async function sideRates(
  context: ServiceContext,
  merchantId: string,
  route: Route,
  since: Date,
  now: Date,
): Promise<Record<Variant, VariantErrorRate>> {
  // The database stamps rows to the microsecond, `now` is whole milliseconds: its whole millisecond counts.
  const until = new Date(now.getTime() + 1);
  const rows = await sql<{ variant: string; payments: number; errors: number }>`
    select variant, count(*)::int as payments, (count(*) filter (where ${systemError()}))::int as errors
    from payment_logs
    where merchant_id = ${merchantId} and route = ${route.id} and type = 'create'
      and create_date >= ${since} and create_date < ${until}
    group by 1`.execute(context.store.db);
  const rate = (variant: Variant): VariantErrorRate => {
    const row = rows.rows.find((candidate) => candidate.variant === variant);
    const payments = row?.payments ?? 0;
    const errors = row?.errors ?? 0;
    return { account: route[variant], payments, errors, rate: ratio(errors, payments) };
  };
  return { stable: rate('stable'), canary: rate('canary') };
}

/**
 * Checks every route with an automatic rollback once. A route whose canary side made at least
 * `minPayments` payments in the window and whose error rate exceeds the stable side's by more than
 * `margin` is rolled back through rollbackRoute, recorded as made by `auto`, by the one instance
 * that takes the route's lock in the shared cache; the alert goes to the alert channel and the log.
 */
export async function checkAutoRollbacks(
  context: ServiceContext,
  send: (message: AlertMessage) => Promise<void>,
  now: Date = context.now(),
): Promise<AutoRollbackCheck[]> {
  const checks: AutoRollbackCheck[] = [];
  for (const [merchantId, routes] of context.routes) {
    for (const route of routes) {
      const rule = route.autoRollback;
      if (!rule) continue;
      if ((await storedShare(context, merchantId, route)) === 0) continue;
      // Payments before the route's last share change belong to the previous rollout.
      const lastChange = await context.store.db
        .selectFrom('route_override_changes')
        .select((eb) => eb.fn.max('changed_at').as('at'))
        .where('merchant_id', '=', merchantId)
        .where('route_id', '=', route.id)
        .executeTakeFirst();
      const windowStart = now.getTime() - rule.windowMs;
      const changedAt = lastChange?.at ? new Date(lastChange.at as Date).getTime() : 0;
      const since = new Date(Math.max(windowStart, changedAt));
      const { stable, canary } = await sideRates(context, merchantId, route, since, now);
      const exceeded =
        canary.payments >= rule.minPayments &&
        canary.rate !== null &&
        canary.rate - (stable.rate ?? 0) > rule.margin;
      const check: AutoRollbackCheck = {
        merchantId,
        route: route.id,
        stable,
        canary,
        exceeded,
        rolledBack: null,
      };
      checks.push(check);
      if (!exceeded) continue;
      const lock = `route-rollback:${merchantId}:${route.id}`;
      if (!(await context.cache.setIfAbsent(lock, { at: now.toISOString() }, ROLLBACK_LOCK_MS))) continue;
      // Another instance may have finished the rollback and let its lock expire.
      if ((await storedShare(context, merchantId, route)) === 0) continue;
      const report = await rollbackRoute(context, merchantId, route.id, 'auto');
      check.rolledBack = report;
      const message: RouteRollbackAlertMessage = {
        alert: 'vkpay_route_rollback',
        status: 'firing',
        merchantId,
        route: route.id,
        canary,
        stable,
        margin: rule.margin,
        windowMinutes: rule.windowMs / 60_000,
        closed: report.closed,
        paid: report.paid,
        reviewed: report.reviewed,
        at: now.toISOString(),
      };
      context.logger.error({ alert: message }, 'route rolled back automatically: its canary side fails');
      await send(message);
    }
  }
  return checks;
}

/** How often each instance looks at the routes with an automatic rollback. */
export const AUTO_ROLLBACK_INTERVAL_MS = 10_000;

/** Checks the automatic rollbacks every intervalMs until stopped (nothing runs without such a route). */
export function startAutoRollbackMonitor(
  context: ServiceContext,
  send: (message: AlertMessage) => Promise<void>,
  intervalMs: number = AUTO_ROLLBACK_INTERVAL_MS,
): () => void {
  const watched = [...context.routes.values()].some((routes) => routes.some((route) => route.autoRollback));
  if (!watched) return () => {};
  return runEvery(context, intervalMs, 'automatic rollback check', async () => {
    await checkAutoRollbacks(context, send);
  });
}
