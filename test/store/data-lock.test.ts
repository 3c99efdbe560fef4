import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DataDirInUseError, LOCK_FILE, lockDataDir } from '../../src/store/data-lock.ts';

/** The pid of a process that has already exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '0']);
  return child.pid;
}

function writeLock(dir: string, holder: { pid: number; host: string }, ageMs = 0): void {
  const path = join(dir, LOCK_FILE);
  writeFileSync(path, JSON.stringify({ ...holder, startedAt: '2026-01-01T00:00:00.000Z' }));
  const at = new Date(Date.now() - ageMs);
  utimesSync(path, at, at);
}

describe('the data folder lock', () => {
  const dirs: string[] = [];
  const folder = () => {
    const dir = mkdtempSync(join(tmpdir(), 'vkpay-lock-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('is held by one opener at a time and names its holder; released, it can be taken again', () => {
    const dir = folder();
    const lock = lockDataDir(dir);
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8'))).toMatchObject({
      pid: process.pid,
      host: hostname(),
    });
    const refusal = (() => {
      try {
        lockDataDir(dir);
      } catch (error) {
        return error;
      }
    })();
    expect(refusal).toBeInstanceOf(DataDirInUseError);
    expect((refusal as Error).message).toContain(`in use by process ${process.pid} on ${hostname()}`);
    expect((refusal as Error).message).toContain(dir);
    lock.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    lockDataDir(dir).release();
  });

  it('refuses while the holder on this host runs, whatever the age of its lock', async () => {
    const dir = folder();
    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      writeLock(dir, { pid: sleeper.pid!, host: hostname() }, 120_000);
      expect(() => lockDataDir(dir)).toThrow(`in use by process ${sleeper.pid} on ${hostname()}`);
    } finally {
      sleeper.kill();
    }
  });

  it('takes over the lock of a process of this host that is gone', () => {
    const dir = folder();
    writeLock(dir, { pid: deadPid(), host: hostname() });
    const lock = lockDataDir(dir);
    expect(JSON.parse(readFileSync(lock.path, 'utf8')).pid).toBe(process.pid);
    lock.release();
  });

  it('takes over a lock of another host only once its holder stopped touching it (30 s)', () => {
    const dir = folder();
    writeLock(dir, { pid: 4242, host: 'other-host' }, 5_000);
    expect(() => lockDataDir(dir)).toThrow('in use by process 4242 on other-host');
    writeLock(dir, { pid: 4242, host: 'other-host' }, 60_000);
    lockDataDir(dir).release();
  });

  it('removes only its own lock at release', () => {
    const dir = folder();
    const lock = lockDataDir(dir);
    writeLock(dir, { pid: 4242, host: 'other-host' });
    lock.release();
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).host).toBe('other-host');
  });
});
