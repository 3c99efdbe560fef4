/**
 * PostgreSQL and Redis on 127.0.0.1, restarted under load by the soak and always brought back:
 * every outage is wrapped so that, whatever fails, the server is running again when it returns,
 * and `ensureServersUp` checks both once more at the very end.
 */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function pgVersion(): string {
  const versions = readdirSync('/etc/postgresql');
  if (versions.length === 0) throw new Error('no PostgreSQL cluster under /etc/postgresql');
  return versions.sort()[0]!;
}

export async function pgReady(): Promise<boolean> {
  try {
    await run('pg_isready', ['-h', '127.0.0.1', '-p', '5432', '-q']);
    return true;
  } catch {
    return false;
  }
}

export async function redisReady(): Promise<boolean> {
  try {
    const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', '6379', 'ping']);
    return stdout.trim() === 'PONG';
  } catch {
    return false;
  }
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(100);
  }
  return false;
}

/**
 * `pg_ctlcluster ... main restart`, or stop, `holdMs` down, start: returns once PostgreSQL answers
 * again, whatever failed on the way.
 */
export async function restartPostgres(holdMs = 0): Promise<void> {
  const cluster = ['--skip-systemctl-redirect', pgVersion(), 'main'];
  try {
    if (holdMs <= 0) await run('pg_ctlcluster', [...cluster, 'restart', '-m', 'fast']);
    else {
      await run('pg_ctlcluster', [...cluster, 'stop', '-m', 'fast']);
      await sleep(holdMs);
      await run('pg_ctlcluster', [...cluster, 'start']);
    }
  } finally {
    await ensurePostgresUp();
  }
}

export async function ensurePostgresUp(): Promise<void> {
  if (await pgReady()) return;
  await run('pg_ctlcluster', ['--skip-systemctl-redirect', pgVersion(), 'main', 'start']).catch(() => {});
  if (!(await waitFor(pgReady, 30_000))) throw new Error('PostgreSQL did not come back within 30 s');
}

export async function stopRedis(): Promise<void> {
  await run('redis-cli', ['-h', '127.0.0.1', '-p', '6379', 'shutdown', 'nosave']).catch(() => {});
  await waitFor(async () => !(await redisReady()), 10_000);
}

export async function startRedis(): Promise<void> {
  if (await redisReady()) return;
  await run('redis-server', [
    '--daemonize',
    'yes',
    '--bind',
    '127.0.0.1',
    '--port',
    '6379',
    '--save',
    '',
    '--appendonly',
    'no',
  ]).catch(() => {});
  if (!(await waitFor(redisReady, 30_000))) throw new Error('Redis did not come back within 30 s');
}

/** Both servers running, whatever happened before: called after every outage and at the end. */
export async function ensureServersUp(): Promise<{ postgres: boolean; redis: boolean }> {
  await ensurePostgresUp().catch(() => {});
  await startRedis().catch(() => {});
  return { postgres: await pgReady(), redis: await redisReady() };
}
