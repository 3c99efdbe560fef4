import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bucketOf, chooseAccount, type Route } from '../../src/service/routing.ts';

const route = (share: number, id = 'wx-new'): Route => ({
  id,
  match: { provider: 'wxpay' },
  stable: 'default',
  canary: 'canary',
  share,
});
const payment = (userId: string | null, outTradeNo = 'T1') => ({
  provider: 'wxpay',
  scene: 'native',
  type: 'goods',
  userId,
  outTradeNo,
});
const USERS = Array.from({ length: 100_000 }, (_, i) => `u${i}`);
const canaryShare = (routes: Route[]) =>
  USERS.filter((user) => chooseAccount(routes, payment(user)).variant === 'canary').length / USERS.length;

describe('routing a payment to a gateway account', () => {
  it('over 100,000 user ids the canary share is within 1 % of the rollout', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 16 }),
        fc.integer({ min: 0, max: 100 }),
        (id, share) => {
          // The side of every user at this route id, once; every share is then checked against it.
          const buckets = USERS.map((user) => bucketOf(id, `user:${user}`));
          for (const rollout of [share, 1, 10, 50, 99]) {
            const canary = buckets.filter((bucket) => bucket < rollout * 100).length / USERS.length;
            expect(Math.abs(canary * 100 - rollout)).toBeLessThanOrEqual(1);
          }
          // chooseAccount decides by exactly these buckets.
          for (const [i, user] of USERS.slice(0, 1_000).entries())
            expect(chooseAccount([route(share, id)], payment(user)).variant).toBe(
              buckets[i]! < share * 100 ? 'canary' : 'stable',
            );
        },
      ),
      { numRuns: 5 },
    );
    expect(Math.abs(canaryShare([route(10)]) * 100 - 10)).toBeLessThanOrEqual(1);
  });

  it('the same user always lands on the same side, whatever the order', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }),
        fc.string(),
        fc.string(),
        fc.integer({ min: 0, max: 100 }),
        (user, first, second, share) => {
          const routes = [route(share)];
          expect(chooseAccount(routes, payment(user, first))).toEqual(
            chooseAccount(routes, payment(user, second)),
          );
        },
      ),
    );
  });

  it('raising the share only moves users from stable to canary', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }),
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 0, max: 100 }),
        (user, a, b) => {
          const [low, high] = a <= b ? [a, b] : [b, a];
          const before = chooseAccount([route(low)], payment(user));
          const after = chooseAccount([route(high)], payment(user));
          if (before.variant === 'canary') expect(after.variant).toBe('canary');
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('edits of a route that keep its id and share keep every user on their side', () => {
    const before = route(30);
    const edited: Route = { ...before, match: { provider: 'wxpay', scene: 'native' }, canary: 'third' };
    for (const user of USERS.slice(0, 5_000))
      expect(chooseAccount([edited], payment(user)).variant).toBe(
        chooseAccount([before], payment(user)).variant,
      );
  });

  it('a payer without a user id is placed by its order number', () => {
    const routes = [route(50)];
    const sides = new Set(
      Array.from({ length: 200 }, (_, i) => chooseAccount(routes, payment(null, `NO${i}`)).variant),
    );
    expect(sides).toEqual(new Set(['stable', 'canary']));
    expect(chooseAccount(routes, payment(null, 'NO1'))).toEqual(chooseAccount(routes, payment(null, 'NO1')));
  });

  it('the first matching route decides; none matching is the default account', () => {
    const routes: Route[] = [
      { ...route(100, 'mini'), match: { provider: 'wxpay', scene: 'miniprogram' } },
      { ...route(0, 'rest'), match: {} },
    ];
    expect(chooseAccount(routes, { ...payment('u1'), scene: 'miniprogram' })).toEqual({
      account: 'canary',
      route: 'mini',
      variant: 'canary',
    });
    expect(chooseAccount(routes, payment('u1'))).toEqual({
      account: 'default',
      route: 'rest',
      variant: 'stable',
    });
    expect(chooseAccount([routes[0]!], payment('u1'))).toEqual({
      account: 'default',
      route: null,
      variant: null,
    });
  });

  it('a share override replaces the configured share: 0 sends everyone to stable', () => {
    const overrides = new Map([['wx-new', 0]]);
    for (const user of USERS.slice(0, 2_000))
      expect(chooseAccount([route(100)], payment(user), overrides).variant).toBe('stable');
  });

  it('buckets are 0..9999', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (id, key) => {
        const bucket = bucketOf(id, key);
        expect(Number.isInteger(bucket) && bucket >= 0 && bucket < 10_000).toBe(true);
      }),
    );
  });
});
