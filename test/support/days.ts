/**
 * China dates (the gateways' bills are by the China day, UTC+8) and route sides, as the
 * reconciliation and gray-release tests pick their days and users.
 */
import { bucketOf, type Route } from '../../src/service/routing.ts';

/** The China date (YYYY-MM-DD) of an instant. */
export const chinaDate = (epochMs: number) => new Date(epochMs + 8 * 3600_000).toISOString().slice(0, 10);

export const addDays = (date: string, days: number) =>
  new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);

/** Two days ago in China: its bill is published whatever the hour. */
export const pastDay = () => chinaDate(Date.now() - 2 * 86_400_000);

/** Noon of a China date, as an ISO instant the emulators' clocks accept. */
export const noonOf = (date: string) => `${date}T12:00:00+08:00`;

/** A user id, `{prefix}-{side}-{n}` from n = `from`, whose bucket puts it on `side` of the route at `share`. */
export function userOn(
  route: Pick<Route, 'id' | 'share'>,
  side: 'stable' | 'canary',
  { from = 0, prefix = 'user', share = route.share }: { from?: number; prefix?: string; share?: number } = {},
): string {
  for (let i = from; ; i++) {
    const userId = `${prefix}-${side}-${i}`;
    if (bucketOf(route.id, `user:${userId}`) < share * 100 === (side === 'canary')) return userId;
  }
}
