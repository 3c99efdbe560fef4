import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { sql } from 'kysely';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type RegisterOptions,
  registerInstance,
  SharedCacheRequiredError,
} from '../../src/service/instances.ts';
import { openStore, type Store } from '../../src/store/db.ts';

const logger = pino({ level: 'silent' });

describe('the instance registry', () => {
  let store: Store;
  beforeAll(async () => {
    store = await openStore({ dataDir: 'memory' });
  });
  afterAll(async () => {
    await store.close();
  });
  beforeEach(async () => {
    await store.db.deleteFrom('service_instances').execute();
  });

  const options = (id: string, more: Partial<RegisterOptions> = {}): RegisterOptions => ({
    id,
    sharedCache: false,
    allowLocalCache: false,
    singleProcessStore: false,
    logger,
    ...more,
  });
  const rows = () =>
    store.db.selectFrom('service_instances').select(['id', 'shared_cache']).orderBy('id').execute();
  /** Another live process on another host, as a PostgreSQL server shared by two machines shows it. */
  const otherHost = (id: string, sharedCache: boolean) =>
    store.db
      .insertInto('service_instances')
      .values({ id, host: 'other-host', pid: 4242, shared_cache: sharedCache })
      .execute();

  it('registers an instance and removes it when it stops', async () => {
    const registration = await registerInstance(store.db, options('a'));
    expect(await rows()).toEqual([{ id: 'a', shared_cache: false }]);
    await registration.stop();
    expect(await rows()).toEqual([]);
  });

  it('refuses a second instance without a shared cache, naming the first and REDIS_URL', async () => {
    await otherHost('first', false);
    const refusal = await registerInstance(store.db, options('second')).catch((error) => error);
    expect(refusal).toBeInstanceOf(SharedCacheRequiredError);
    expect(refusal.message).toContain('first (pid 4242 on other-host');
    expect(refusal.message).toContain('REDIS_URL');
    expect(refusal.message).toContain('VKPAY_ALLOW_LOCAL_CACHE=1');
    expect(refusal.message).toMatch(/nonces, rate limits, job locks and the result cache/);
    expect(await rows()).toEqual([{ id: 'first', shared_cache: false }]);
  });

  it('starts beside others with the explicit switch, and with a shared cache beside shared caches', async () => {
    await otherHost('first', false);
    const allowed = await registerInstance(store.db, options('second', { allowLocalCache: true }));
    await allowed.stop();
    await store.db.deleteFrom('service_instances').execute();

    await otherHost('first', true);
    const shared = await registerInstance(store.db, options('second', { sharedCache: true }));
    expect(await rows()).toEqual([
      { id: 'first', shared_cache: true },
      { id: 'second', shared_cache: true },
    ]);
    await shared.stop();
  });

  it('refuses an instance with Redis beside one with an in-memory cache', async () => {
    await otherHost('local', false);
    await expect(registerInstance(store.db, options('shared', { sharedCache: true }))).rejects.toThrow(
      /without a shared cache run on this database: local .*Restart them with REDIS_URL/,
    );
  });

  it('ignores instances that are gone: no heartbeat for 30 s, or a dead process of this host', async () => {
    await otherHost('silent', false);
    await sql`update service_instances set heartbeat_at = now() - interval '31 seconds'`.execute(store.db);
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    await store.db
      .insertInto('service_instances')
      .values({ id: 'killed', host: hostname(), pid: dead, shared_cache: false })
      .execute();
    const registration = await registerInstance(store.db, options('next'));
    expect(await rows()).toEqual([{ id: 'next', shared_cache: false }]);
    await registration.stop();
  });

  it('keeps its heartbeat, and registers again if its row was taken for gone', async () => {
    const registration = await registerInstance(store.db, options('beating', { heartbeatMs: 50 }));
    await sql`update service_instances set heartbeat_at = now() - interval '1 hour'`.execute(store.db);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const fresh = await sql<{ fresh: boolean }>`
      select heartbeat_at > now() - interval '5 seconds' as fresh from service_instances`.execute(store.db);
    expect(fresh.rows).toEqual([{ fresh: true }]);
    await store.db.deleteFrom('service_instances').execute();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await rows()).toEqual([{ id: 'beating', shared_cache: false }]);
    await registration.stop();
  });

  it('takes every row left on a store only one process can open for a former life', async () => {
    await otherHost('former', false);
    const registration = await registerInstance(store.db, options('now', { singleProcessStore: true }));
    expect(await rows()).toEqual([{ id: 'now', shared_cache: false }]);
    await registration.stop();
  });
});
