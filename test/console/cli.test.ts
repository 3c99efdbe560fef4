import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyPassword } from '../../src/service/console/passwords.ts';
import { openStore } from '../../src/store/db.ts';
import { runCommand } from '../cli/run.ts';

const bin = join(import.meta.dirname, '../../bin/vk-pay.mjs');

/** Runs `vk-pay` with `input` on standard input; `untilReady` stops a service once it is ready. */
function withStdin(args: string[], env: Record<string, string>, input: string, untilReady = false) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { ...process.env, DATABASE_URL: '', REDIS_URL: '', VKPAY_CONFIG: '', VKPAY_ENV: '', ...env },
    });
    let stdout = '';
    let stderr = '';
    let stopping = false;
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      if (untilReady && !stopping && stdout.includes('VK-Pay ready')) {
        stopping = true;
        child.kill('SIGTERM');
      }
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

describe('vk-pay console', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vkpay-console-cli-'));
  const env = { VKPAY_DATA_DIR: dir, VKPAY_LOG_LEVEL: 'warn' };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('adds users (a generated password printed once, or one from stdin), lists, resets TOTP and disables them', {
    timeout: 600_000,
  }, async () => {
    const added = await runCommand(
      ['console', 'add-user', 'ops', '--role', 'operator', '--merchant', 'shopA', '--merchant', 'shopB'],
      env,
    );
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    expect(added.stdout).toContain('created operator ops (shopA, shopB)');
    const password = /password: (\S+)/.exec(added.stdout)?.[1];
    expect(password).toMatch(/^[A-Za-z0-9]{20}$/);

    const piped = await withStdin(
      ['console', 'add-user', 'watcher', '--role', 'viewer', '--password-stdin'],
      env,
      'a password from a vault\n',
    );
    expect(piped.code).toBe(0);
    expect(piped.stdout).not.toContain('password:');

    const listed = await runCommand(['console', 'list-users'], env);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain('ops\toperator\tshopA,shopB\ttotp=off\tactive');
    expect(listed.stdout).toContain('watcher\tviewer\t*\ttotp=off\tactive');
    expect(listed.stdout).not.toContain(password);

    expect((await runCommand(['console', 'reset-totp', 'ops'], env)).code).toBe(0);
    const disabled = await runCommand(['console', 'disable-user', 'watcher'], env);
    expect(disabled.stdout).toContain('watcher disabled');
    expect((await runCommand(['console', 'list-users'], env)).stdout).toContain(
      'watcher\tviewer\t*\ttotp=off\tdisabled',
    );

    const store = await openStore({ dataDir: dir });
    try {
      const users = await store.db.selectFrom('console_users').selectAll().orderBy('name').execute();
      expect(await verifyPassword(password!, users[0]!.password_hash)).toMatchObject({ ok: true });
      expect(await verifyPassword('a password from a vault', users[1]!.password_hash)).toMatchObject({
        ok: true,
      });
      const actions = await store.db
        .selectFrom('console_audit')
        .select(['action', 'actor_name', 'target'])
        .orderBy('id')
        .execute();
      expect(actions).toEqual([
        { action: 'user.created', actor_name: 'system', target: 'ops' },
        { action: 'user.created', actor_name: 'system', target: 'watcher' },
        { action: 'totp.reset', actor_name: 'system', target: 'ops' },
        { action: 'user.disabled', actor_name: 'system', target: 'watcher' },
      ]);
    } finally {
      await store.close();
    }
  });

  it('refuses bad usage or a bad value with exit code 2, before opening the store', {
    timeout: 300_000,
  }, async () => {
    const noRole = await runCommand(['console', 'add-user', 'x'], env);
    expect(noRole.code).toBe(2);
    expect(noRole.stderr).toContain('--role is needed');
    expect((await runCommand(['console', 'frobnicate'], env)).code).toBe(2);
    const badRole = await runCommand(['console', 'add-user', 'x', '--role', 'owner'], env);
    expect(badRole.code).toBe(2);
    expect(badRole.stderr).toContain('role must be one of viewer, operator, admin');
    const short = await withStdin(
      ['console', 'add-user', 'y', '--role', 'viewer', '--password-stdin'],
      env,
      'short\n',
    );
    expect(short.code).toBe(2);
    expect(short.stderr).toContain('password must be 12 to 256 characters');
    expect((await runCommand(['console', '--help'], env)).stdout).toContain('add-user <name> --role');
  });
});

describe('the first start in development', () => {
  it('creates an admin and prints its password once, never again', { timeout: 600_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vkpay-console-first-'));
    try {
      const serve = {
        VKPAY_DATA_DIR: dir,
        VKPAY_PORT: '0',
        VKPAY_SYNC_INTERVAL_MS: '0',
        VKPAY_ENV: 'development',
      };
      const first = await withStdin(['serve'], serve, '', true);
      expect(first.code).toBe(0);
      const line = first.stdout.split('\n').find((text) => text.startsWith('Operator console:'));
      expect(line).toMatch(
        /^Operator console: http:\/\/127\.0\.0\.1:\d+\/console user admin password [A-Za-z0-9]{20} /,
      );
      const again = await withStdin(['serve'], serve, '', true);
      expect(again.code).toBe(0);
      expect(again.stdout).not.toContain('Operator console:');
      expect(again.stdout).not.toMatch(/password [A-Za-z0-9]{20}/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
