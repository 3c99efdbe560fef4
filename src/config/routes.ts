/**
 * `routes` in the service config file: per merchant, the rules that choose which gateway account
 * takes a new payment. Checked strictly at start, against the accounts the file configures, so a
 * typo in an account or a share fails loudly instead of sending payments the wrong way.
 */
import { PROVIDERS, SCENES } from '../core/validate.ts';
import type { AutoRollbackRule, Route, RouteMatch } from '../service/routing.ts';
import { ConfigError } from './config.ts';

const ROUTE_KEYS = ['id', 'match', 'stable', 'canary', 'share', 'autoRollback'];
const AUTO_ROLLBACK_KEYS = ['margin', 'minPayments', 'windowMinutes'];
const MATCH_KEYS = ['provider', 'scene', 'type', 'platform'];
const ROUTE_ID = /^[A-Za-z0-9_.-]{1,64}$/;
const ACCOUNT_ID = /^[A-Za-z0-9_-]{1,32}$/;

/** The accounts the file configures: provider -> merchant id -> account ids. */
export type ConfiguredAccounts = Record<string, Map<string, Set<string>>>;

/** Collects `merchantId`/`account` (default `default`) of each provider's configured entries. */
export function configuredAccounts(byProvider: Record<string, readonly object[]>): ConfiguredAccounts {
  const accounts: ConfiguredAccounts = {};
  for (const [provider, entries] of Object.entries(byProvider)) {
    const merchants = new Map<string, Set<string>>();
    for (const [i, entry] of (entries as Array<{ merchantId?: unknown; account?: unknown }>).entries()) {
      const merchantId = String(entry.merchantId);
      const set = merchants.get(merchantId) ?? new Set<string>();
      if (
        entry.account !== undefined &&
        (typeof entry.account !== 'string' || !ACCOUNT_ID.test(entry.account))
      )
        throw new ConfigError(`${provider}[${i}].account must be 1 to 32 letters, digits, _ or -`);
      const account = entry.account ?? 'default';
      if (set.has(account))
        throw new ConfigError(
          `${provider}[${i}]: merchant ${merchantId} account ${account} is configured twice`,
        );
      set.add(account);
      merchants.set(merchantId, set);
    }
    accounts[provider] = merchants;
  }
  return accounts;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function onlyKeys(value: Record<string, unknown>, keys: string[], where: string): void {
  const unknown = Object.keys(value).filter((key) => !keys.includes(key));
  if (unknown.length > 0)
    throw new ConfigError(`${where} has unknown field ${unknown.join(', ')} (known: ${keys.join(', ')})`);
}

function matchOf(value: unknown, where: string): RouteMatch {
  if (value === undefined) return {};
  if (!isObject(value)) throw new ConfigError(`${where} must be an object`);
  onlyKeys(value, MATCH_KEYS, where);
  const match: RouteMatch = {};
  for (const key of MATCH_KEYS as Array<keyof RouteMatch>) {
    const item = value[key];
    if (item === undefined) continue;
    if (typeof item !== 'string' || item.length === 0)
      throw new ConfigError(`${where}.${key} must be a non-empty string`);
    match[key] = item;
  }
  if (match.provider !== undefined && !(PROVIDERS as readonly string[]).includes(match.provider))
    throw new ConfigError(`${where}.provider must be one of ${PROVIDERS.join(', ')}`);
  if (match.scene !== undefined && !(SCENES as readonly string[]).includes(match.scene))
    throw new ConfigError(`${where}.scene must be one of ${SCENES.join(', ')}`);
  return match;
}

/** `autoRollback`: { margin (0 to 1), minPayments (a whole number of payments), windowMinutes }. */
function autoRollbackOf(value: unknown, where: string): AutoRollbackRule {
  if (!isObject(value)) throw new ConfigError(`${where} must be an object`);
  onlyKeys(value, AUTO_ROLLBACK_KEYS, where);
  const { margin, minPayments, windowMinutes } = value;
  if (typeof margin !== 'number' || !(margin >= 0 && margin < 1))
    throw new ConfigError(`${where}.margin must be a share from 0 to below 1 (0.05 = 5 percentage points)`);
  if (typeof minPayments !== 'number' || !Number.isSafeInteger(minPayments) || minPayments < 1)
    throw new ConfigError(`${where}.minPayments must be a whole number of payments, at least 1`);
  if (typeof windowMinutes !== 'number' || !(windowMinutes > 0 && windowMinutes <= 24 * 60))
    throw new ConfigError(`${where}.windowMinutes must be a number of minutes above 0, at most 1440`);
  return { margin, minPayments, windowMs: Math.round(windowMinutes * 60_000) };
}

/**
 * `routes`: { "<merchantId>": [{ id, match, stable, canary, share, autoRollback? }] }; an absent key
 * is no routes.
 */
export function routesOf(value: unknown, accounts: ConfiguredAccounts): Record<string, Route[]> {
  if (value === undefined) return {};
  if (!isObject(value)) throw new ConfigError('routes must map merchant ids to lists of routes');
  const routes: Record<string, Route[]> = {};
  for (const [merchantId, list] of Object.entries(value)) {
    if (!Array.isArray(list)) throw new ConfigError(`routes.${merchantId} must be a list of routes`);
    const ids = new Set<string>();
    routes[merchantId] = list.map((item, i): Route => {
      const where = `routes.${merchantId}[${i}]`;
      if (!isObject(item)) throw new ConfigError(`${where} must be an object`);
      onlyKeys(item, ROUTE_KEYS, where);
      if (typeof item.id !== 'string' || !ROUTE_ID.test(item.id))
        throw new ConfigError(`${where}.id must be 1 to 64 letters, digits, _, . or -`);
      if (ids.has(item.id)) throw new ConfigError(`${where}.id ${item.id} is used twice for ${merchantId}`);
      ids.add(item.id);
      const match = matchOf(item.match, `${where}.match`);
      for (const side of ['stable', 'canary'] as const)
        if (typeof item[side] !== 'string' || item[side] === '')
          throw new ConfigError(`${where}.${side} must name an account`);
      const stable = item.stable as string;
      const canary = item.canary as string;
      if (stable === canary) throw new ConfigError(`${where}: stable and canary must be different accounts`);
      const share = item.share;
      if (
        typeof share !== 'number' ||
        !(share >= 0 && share <= 100) ||
        Math.abs(share * 100 - Math.round(share * 100)) > 1e-6
      )
        throw new ConfigError(`${where}.share must be a percent from 0 to 100, in steps of 0.01`);
      // The route may choose for every gateway it matches: each must have both accounts.
      const providers = match.provider
        ? [match.provider]
        : Object.keys(accounts).filter((provider) => accounts[provider]!.has(merchantId));
      if (providers.length === 0)
        throw new ConfigError(`${where}: merchant ${merchantId} has no gateway account configured`);
      for (const provider of providers) {
        const configured = accounts[provider]?.get(merchantId) ?? new Set<string>();
        for (const account of [stable, canary])
          if (!configured.has(account))
            throw new ConfigError(
              `${where}: ${provider} merchant ${merchantId} has no account ${JSON.stringify(account)} (configured: ${[...configured].join(', ') || 'none'})`,
            );
      }
      const autoRollback =
        item.autoRollback === undefined
          ? undefined
          : autoRollbackOf(item.autoRollback, `${where}.autoRollback`);
      return { id: item.id, match, stable, canary, share, ...(autoRollback ? { autoRollback } : {}) };
    });
  }
  return routes;
}
