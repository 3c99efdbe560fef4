/**
 * A merchant's gray release routes for the console: each with the share in force and its accounts,
 * and the orders each side took lately (made, paid), counted over the merchant's listing index.
 */
import { sql } from 'kysely';
import type { ServiceContext } from '../service/context.ts';
import { listRoutes, type RouteState } from '../service/route-overrides.ts';
import type { Variant } from '../service/routing.ts';

/** Orders are counted over this many days: a bounded range of the merchant's listing index. */
export const ROUTE_COUNT_DAYS = 7;

export interface VariantCounts {
  orders: number;
  paid: number;
}

export interface ConsoleRoute extends RouteState {
  /** Orders each side took in the last ROUTE_COUNT_DAYS days. */
  counts: Record<Variant, VariantCounts>;
}

export async function routesWithCounts(
  context: ServiceContext,
  merchantId: string,
  now: Date,
): Promise<ConsoleRoute[]> {
  const routes = await listRoutes(context, merchantId);
  if (routes.length === 0) return [];
  const rows = await context.store.db
    .selectFrom('payment_orders')
    .select(['route', 'variant'])
    .select(sql<string>`count(*)`.as('orders'))
    .select(
      sql<string>`count(*) filter (where status in ('SUCCESS', 'PARTIAL_REFUNDED', 'REFUNDED'))`.as('paid'),
    )
    .where('merchant_id', '=', merchantId)
    .where('create_date', '>=', new Date(now.getTime() - ROUTE_COUNT_DAYS * 86_400_000))
    .where('route', 'is not', null)
    .groupBy(['route', 'variant'])
    .execute();
  return routes.map((route) => {
    const counts: Record<Variant, VariantCounts> = {
      stable: { orders: 0, paid: 0 },
      canary: { orders: 0, paid: 0 },
    };
    for (const row of rows) {
      if (row.route !== route.id || (row.variant !== 'stable' && row.variant !== 'canary')) continue;
      counts[row.variant] = { orders: Number(row.orders), paid: Number(row.paid) };
    }
    return { ...route, counts };
  });
}
