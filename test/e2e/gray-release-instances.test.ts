/** A route's rollback on one instance reaches another on the same PostgreSQL + Redis within a second. */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setRouteShare, shareOverrides } from '../../src/service/route-overrides.ts';
import { chooseAccount, type Route } from '../../src/service/routing.ts';
import { dropSchema } from '../../src/store/db.ts';
import { createVkPay, type VkPay } from '../../src/vk-pay.ts';
import { serverUrls, uniqueName } from '../support/backends.ts';

const servers = Boolean(serverUrls.databaseUrl && serverUrls.redisUrl);
const ROUTE: Route = { id: 'wx-new', match: {}, stable: 'default', canary: 'canary', share: 100 };

describe.skipIf(!servers)('route state shared by two instances on PostgreSQL + Redis', () => {
  const schema = uniqueName('routes');
  const instances: VkPay[] = [];

  beforeAll(async () => {
    for (let i = 0; i < 2; i++)
      instances.push(
        await createVkPay({
          databaseUrl: serverUrls.databaseUrl,
          redisUrl: serverUrls.redisUrl,
          schema,
          cachePrefix: `${schema}:`,
          logger: pino({ level: 'silent' }),
          routes: { shop1: [ROUTE] },
        }),
      );
  });
  afterAll(async () => {
    for (const instance of instances) await instance.close();
    await dropSchema(serverUrls.databaseUrl!, schema);
  });

  it('a share set on one instance is in force on the other within a second', async () => {
    const [a, b] = instances as [VkPay, VkPay];
    const payment = { provider: 'wxpay', scene: 'native', type: 'goods', userId: 'u1', outTradeNo: 'T1' };
    // The second instance has read (and keeps) the file's share.
    expect(await shareOverrides(b.context, 'shop1')).toEqual(new Map());
    expect(chooseAccount([ROUTE], payment, await shareOverrides(b.context, 'shop1')).account).toBe('canary');

    const started = Date.now();
    await setRouteShare(a.context, 'shop1', ROUTE.id, 0, 'ops');
    let overrides = await shareOverrides(b.context, 'shop1');
    while (overrides.get(ROUTE.id) !== 0 && Date.now() - started < 1_000) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      overrides = await shareOverrides(b.context, 'shop1');
    }
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(chooseAccount([ROUTE], payment, overrides)).toMatchObject({
      account: 'default',
      variant: 'stable',
    });
  });
});
