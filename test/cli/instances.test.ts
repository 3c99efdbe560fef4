/**
 * `vk-pay serve` instances on one PostgreSQL database register themselves; a second one without a
 * shared cache refuses to start unless VKPAY_ALLOW_LOCAL_CACHE=1 says so, and instances with Redis
 * start together. Runs only when VKPAY_TEST_DATABASE_URL (and, for Redis, VKPAY_TEST_REDIS_URL) are set.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Child } from '../../bench/support/children.ts';
import { dropSchema } from '../../src/store/db.ts';
import { serverUrls, uniqueName } from '../support/backends.ts';
import { type CommandEnv, runCommand, startService } from './run.ts';

describe.skipIf(!serverUrls.databaseUrl)('service instances on one PostgreSQL database', () => {
  const schema = uniqueName('inst');
  const dataDir = mkdtempSync(join(tmpdir(), 'vkpay-instances-'));
  const started: Array<Child<unknown>> = [];
  let env: CommandEnv = {};

  const instances = async () => {
    const client = new pg.Client({ connectionString: serverUrls.databaseUrl });
    await client.connect();
    try {
      const result = await client.query(
        `select pid, shared_cache from ${schema}.service_instances order by started_at`,
      );
      return result.rows as Array<{ pid: number; shared_cache: boolean }>;
    } finally {
      await client.end();
    }
  };
  const start = async (more: CommandEnv = {}) => {
    const child = await startService({ ...env, ...more });
    started.push(child as Child<unknown>);
    return child;
  };

  beforeAll(async () => {
    const client = new pg.Client({ connectionString: serverUrls.databaseUrl });
    await client.connect();
    await client.query(`create schema ${schema}`);
    await client.end();
    const databaseUrl = new URL(serverUrls.databaseUrl!);
    databaseUrl.searchParams.set('options', `-c search_path=${schema}`);
    env = { DATABASE_URL: databaseUrl.href, VKPAY_DATA_DIR: dataDir, VKPAY_SANDBOX: 'false' };
  });

  afterAll(async () => {
    for (const child of started) await child.stop();
    await dropSchema(serverUrls.databaseUrl!, schema);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses a second instance without Redis, starts it with the explicit switch, and deregisters on stop', async () => {
    const first = await start();
    expect(await instances()).toEqual([{ pid: first.pid, shared_cache: false }]);

    const second = await runCommand(['serve'], env);
    expect(second.code).toBe(2);
    expect(second.stderr).toContain(`pid ${first.pid} on`);
    expect(second.stderr).toContain(
      'replay nonces, rate limits, job locks and the result cache would be kept per process',
    );
    expect(second.stderr).toContain('Set REDIS_URL');
    expect(second.stderr).toContain('VKPAY_ALLOW_LOCAL_CACHE=1');
    expect(await instances()).toHaveLength(1);

    const allowed = await start({ VKPAY_ALLOW_LOCAL_CACHE: '1' });
    expect((await instances()).map((row) => row.pid)).toEqual([first.pid, allowed.pid]);
    await allowed.stop();
    await first.stop();
    expect(await instances()).toEqual([]);
  }, 240_000);

  it('takes the row of a killed instance of this host for gone at once', async () => {
    const killed = await start();
    const exited = new Promise((resolve) => killed.process.once('exit', resolve));
    killed.process.kill('SIGKILL');
    await exited;
    expect(await instances()).toHaveLength(1);
    const next = await start();
    expect(await instances()).toEqual([{ pid: next.pid, shared_cache: false }]);
    await next.stop();
  }, 240_000);

  it.skipIf(!serverUrls.redisUrl)(
    'starts instances sharing Redis together, and refuses one with Redis beside one without',
    async () => {
      const local = await start();
      const refused = await runCommand(['serve'], { ...env, REDIS_URL: serverUrls.redisUrl });
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain(`instance(s) without a shared cache run on this database`);
      expect(refused.stderr).toContain(`pid ${local.pid} on`);
      await local.stop();

      const withRedis = { REDIS_URL: serverUrls.redisUrl };
      const [a, b] = await Promise.all([start(withRedis), start(withRedis)]);
      expect(await instances()).toEqual(
        expect.arrayContaining([
          { pid: a.pid, shared_cache: true },
          { pid: b.pid, shared_cache: true },
        ]),
      );
      await Promise.all([a.stop(), b.stop()]);
      expect(await instances()).toEqual([]);
    },
    240_000,
  );
});
