/**
 * `vk-pay routes ...`: a merchant's gray release routes from the command line, on the service's own
 * store and cache, through the same service calls as the API: list them, set or clear a share, roll
 * back.
 * Every change is recorded with the operator's login as who made it.
 */
import { userInfo } from 'node:os';
import type { Logger } from 'pino';
import type { ServiceConfig } from '../config/service-config.ts';
import { PayError } from '../core/errors.ts';
import type { RouteState } from '../service/route-overrides.ts';
import { createVkPay } from '../vk-pay.ts';

export const ROUTES_HELP = `vk-pay routes <command>
  list <merchant>    each route of the merchant: id, share in force (and the config file's when a
                     stored one is over it), stable and canary accounts, match
  set-share <merchant> <route> <share>
                     store a share (percent of payers on the canary account, 0 to 100 in steps
                     of 0.01) over the file's; only the share changes, nothing is closed
  clear-share <merchant> <route>
                     remove the stored share: the config file's is in force again
  rollback <merchant> <route>
                     share 0, then the canary side's unpaid orders closed at their gateway (a
                     failed close opens a review); paid orders stay valid
  Running instances follow a change within a second (through REDIS_URL when set, else within 5 s).
  Exit codes: 0 done, 1 refused (no such route), 2 bad usage or value.
  The store is the service's: DATABASE_URL, or VKPAY_DATA_DIR (./data) while the service is stopped.
`;

const USAGE_OF: Record<string, string[]> = {
  list: ['merchant'],
  'set-share': ['merchant', 'route', 'share'],
  'clear-share': ['merchant', 'route'],
  rollback: ['merchant', 'route'],
};

const ROUTE_ID = /^[A-Za-z0-9_.-]{1,64}$/;
/** A percent with at most two decimals: the hash's buckets are hundredths of a percent. */
const SHARE = /^[0-9]{1,3}(\.[0-9]{1,2})?$/;

class UsageError extends Error {}

interface Parsed {
  command: string;
  merchantId: string;
  routeId: string;
  share: number;
}

function parse(args: string[]): Parsed {
  const [command = '', ...rest] = args;
  const wanted = USAGE_OF[command];
  if (!wanted) throw new UsageError(`unknown routes command ${command || '(none)'}`);
  const option = rest.find((arg) => arg.startsWith('-'));
  if (option !== undefined) throw new UsageError(`unknown option ${option}`);
  if (rest.length !== wanted.length)
    throw new UsageError(`${command} takes ${wanted.map((name) => `<${name}>`).join(' ')}`);
  const [merchantId = '', routeId = '', share = ''] = rest;
  if (merchantId.length > 64) throw new UsageError(`bad merchant id ${JSON.stringify(merchantId)}`);
  if (wanted.includes('route') && !ROUTE_ID.test(routeId))
    throw new UsageError(`bad route id ${JSON.stringify(routeId)}`);
  if (wanted.includes('share') && !(SHARE.test(share) && Number(share) <= 100))
    throw new UsageError(
      `share must be a percent from 0 to 100 in steps of 0.01, not ${JSON.stringify(share)}`,
    );
  return { command, merchantId, routeId, share: Number(share) };
}

/** Who the change is recorded as: the operator's login on this machine. */
function operator(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch (error) {
    // A container user without a passwd entry has no name; the change is still recorded, as the CLI's.
    if (error instanceof Error) return 'cli';
    throw error;
  }
}

function describeRoute(route: RouteState): string {
  const match = Object.entries(route.match)
    .map(([field, value]) => `${field}=${value}`)
    .join(',');
  const file = route.overridden ? ` (file ${route.share})` : '';
  return `${route.id}\tshare=${route.effectiveShare}${file}\tstable=${route.stable}\tcanary=${route.canary}\tmatch=${match || '*'}`;
}

export async function runRoutesCommand(
  args: string[],
  config: ServiceConfig,
  logger: Logger,
): Promise<number> {
  let parsed: Parsed;
  try {
    parsed = parse(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n\n${ROUTES_HELP}`);
    return 2;
  }
  const { command, merchantId, routeId, share } = parsed;
  const vkPay = await createVkPay({ ...config, logger });
  try {
    const routes = await vkPay.listRoutes(merchantId);
    if (command === 'list') {
      if (routes.length === 0) process.stdout.write(`merchant ${merchantId} has no routes\n`);
      for (const route of routes) process.stdout.write(`${describeRoute(route)}\n`);
      return 0;
    }
    const before = routes.find((route) => route.id === routeId)?.effectiveShare;
    if (command === 'set-share') {
      const route = await vkPay.setRouteShare(merchantId, routeId, share, operator());
      process.stdout.write(
        `${merchantId} route ${route.id}: share ${before} -> ${route.effectiveShare} (canary ${route.canary}, stable ${route.stable}); orders already made keep their account\n`,
      );
      return 0;
    }
    if (command === 'clear-share') {
      const route = await vkPay.clearRouteShare(merchantId, routeId, operator());
      process.stdout.write(
        `${merchantId} route ${route.id}: share ${before} -> ${route.effectiveShare} (the config file's); orders already made keep their account\n`,
      );
      return 0;
    }
    const report = await vkPay.rollbackRoute(merchantId, routeId, operator());
    process.stdout.write(
      `${merchantId} route ${report.route.id} rolled back to ${report.route.stable}: share ${before} -> 0; canary orders closed ${report.closed}, found paid ${report.paid}, reviews opened ${report.reviewed}\n`,
    );
    return 0;
  } catch (error) {
    if (error instanceof PayError && error.code !== 50000) {
      process.stderr.write(`${error.message}\n`);
      return error.code === 40001 ? 2 : 1;
    }
    throw error;
  } finally {
    await vkPay.close();
  }
}
