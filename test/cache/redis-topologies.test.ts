/**
 * The Redis cache through Sentinel and on a Redis Cluster, each started here from redis-server on
 * spare ports in a temporary folder (and stopped after), beside the Redis the server suites use.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cache } from '../../src/cache/cache.ts';
import { createRedisCache } from '../../src/cache/redis.ts';
import { serverUrls, uniqueName } from '../support/backends.ts';

function onPath(command: string): boolean {
  try {
    execFileSync(command, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const available = Boolean(serverUrls.redisUrl) && onPath('redis-server') && onPath('redis-cli');

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free port whose cluster bus port (port + 10000) is free too. */
async function sparePort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    if (taken.has(port) || taken.has(port + 10_000)) continue;
    if ((await portIsFree(port)) && (await portIsFree(port + 10_000))) {
      taken.add(port);
      taken.add(port + 10_000);
      return port;
    }
  }
}

function cli(port: number, ...args: string[]): string {
  return execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
}

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** What the cache must do the same on every topology. */
async function exercise(cache: Cache): Promise<void> {
  await cache.set('order:1', { status: 'SUCCESS' }, 10_000);
  expect(await cache.get('order:1')).toEqual({ status: 'SUCCESS' });
  expect(await cache.setIfNewer('order:2', 2, { status: 'SUCCESS' }, 10_000)).toBe(true);
  expect(await cache.setIfNewer('order:2', 1, { status: 'NOTPAY' }, 10_000)).toBe(false);
  expect(await cache.setIfAbsent('nonce:a', 1, 10_000)).toBe(true);
  expect(await cache.setIfAbsent('nonce:a', 1, 10_000)).toBe(false);
  expect(await cache.increment('hits', 10_000)).toBe(1);
  expect(await cache.increment('hits', 10_000)).toBe(2);
  await cache.delete('order:1');
  expect(await cache.get('order:1')).toBeUndefined();
  const heard: string[] = [];
  const unsubscribe = await cache.subscribe('paid', (message) => heard.push(message));
  // Subscribing completes before the subscriber connection is ready everywhere: publish until heard.
  for (let i = 0; i < 100 && heard.length === 0; i++) {
    await cache.publish('paid', 'o-1');
    await sleep(50);
  }
  expect(heard[0]).toBe('o-1');
  unsubscribe();
}

describe.skipIf(!available)('Redis cache through Sentinel and on a Cluster', () => {
  // Made in beforeAll, not here: a skipped suite still runs this body, but none of its hooks.
  let folder = '';
  const processes: ChildProcess[] = [];
  const taken = new Set<number>();
  const start = (args: string[]) => {
    const child = spawn('redis-server', args, { cwd: folder, stdio: 'ignore' });
    processes.push(child);
    return child;
  };
  const server = (port: number, ...extra: string[]) =>
    start([
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      folder,
      ...extra,
    ]);

  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), 'vkpay-redis-'));
  });

  afterAll(async () => {
    for (const child of processes) child.kill('SIGTERM');
    await Promise.all(
      processes.map((child) =>
        child.exitCode === null && child.signalCode === null
          ? new Promise((resolve) => child.once('exit', resolve))
          : null,
      ),
    );
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  describe('Sentinel', () => {
    let master: number;
    let sentinel: number;
    beforeAll(async () => {
      master = await sparePort(taken);
      sentinel = await sparePort(taken);
      server(master, '--requirepass', 'master-pw');
      const config = join(folder, 'sentinel.conf');
      writeFileSync(
        config,
        [
          `port ${sentinel}`,
          'bind 127.0.0.1',
          `dir ${folder}`,
          `sentinel monitor cache-master 127.0.0.1 ${master} 1`,
          'sentinel auth-pass cache-master master-pw',
          '',
        ].join('\n'),
      );
      start([config, '--sentinel']);
      await until('the sentinel to know the master', () =>
        cli(sentinel, 'SENTINEL', 'get-master-addr-by-name', 'cache-master').includes(String(master)),
      );
    });

    it('finds the master through the sentinels and works on it', async () => {
      const cache = await createRedisCache({
        url: `redis+sentinel://:master-pw@127.0.0.1:${sentinel}/cache-master/2`,
        prefix: `${uniqueName('s')}:`,
      });
      try {
        await exercise(cache);
        // Written to the master behind the sentinel, in the database the URL names.
        expect(cli(master, '-a', 'master-pw', '--no-auth-warning', '-n', '2', 'DBSIZE').trim()).not.toBe('0');
      } finally {
        await cache.close();
      }
    });
  });

  describe('Cluster', () => {
    const ports: number[] = [];
    beforeAll(async () => {
      for (let i = 0; i < 3; i++) ports.push(await sparePort(taken));
      for (const port of ports)
        server(port, '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`);
      await until('the nodes', () => ports.every((port) => cli(port, 'PING').trim() === 'PONG'));
      execFileSync(
        'redis-cli',
        [
          '--cluster',
          'create',
          ...ports.map((port) => `127.0.0.1:${port}`),
          '--cluster-replicas',
          '0',
          '--cluster-yes',
        ],
        { stdio: 'ignore' },
      );
      await until('the cluster', () =>
        ports.every((port) => cli(port, 'CLUSTER', 'INFO').includes('cluster_state:ok')),
      );
    });

    it('routes each key to its slot and works across the nodes', async () => {
      const cache = await createRedisCache({
        url: `redis+cluster://127.0.0.1:${ports[0]}`,
        prefix: `${uniqueName('k')}:`,
      });
      try {
        await exercise(cache);
        for (let i = 0; i < 30; i++) await cache.set(`spread:${i}`, i, 10_000);
        for (let i = 0; i < 30; i++) expect(await cache.get(`spread:${i}`)).toBe(i);
        // Thirty keys over three nodes: each node holds some, so the client followed the slots.
        for (const port of ports) expect(Number(cli(port, 'DBSIZE').trim())).toBeGreaterThan(0);
      } finally {
        await cache.close();
      }
    });
  });
});
