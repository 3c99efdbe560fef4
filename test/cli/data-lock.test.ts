/**
 * One process at a time on an embedded data folder: a second `vk-pay serve` and `vk-pay doctor`
 * say who holds it and leave it alone; the folder is free again once its service stops, or dies.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCK_FILE } from '../../src/store/data-lock.ts';
import { runCommand, startService } from './run.ts';

describe('the embedded data folder, locked by its service', () => {
  const root = mkdtempSync(join(tmpdir(), 'vkpay-lock-cli-'));
  const dataDir = join(root, 'data');
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('refuses a second service and keeps doctor out while the first runs; free once it stops', async () => {
    const first = await startService({ VKPAY_DATA_DIR: dataDir });
    try {
      expect(existsSync(join(dataDir, LOCK_FILE))).toBe(true);
      const second = await runCommand(['serve'], { VKPAY_DATA_DIR: dataDir });
      expect(second.code).toBe(2);
      expect(second.stderr).toContain(
        `the data folder ${dataDir} is in use by process ${first.pid} on ${hostname()}`,
      );
      expect(second.stdout).not.toContain('VK-Pay ready');

      const doctor = await runCommand(['doctor'], { VKPAY_DATA_DIR: dataDir });
      expect(doctor.code).toBe(1);
      expect(doctor.stdout).toContain(
        `FAIL database not opened: the data folder ${dataDir} is in use by process ${first.pid}`,
      );
      // Everything else is still checked.
      expect(doctor.stdout).toContain('ok   configuration (testing)');
      expect(doctor.stdout).toContain('ok   cache reachable: memory');
      expect(doctor.stdout).toContain('1 check(s) failed');
    } finally {
      await first.stop();
    }
    expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);

    const next = await startService({ VKPAY_DATA_DIR: dataDir });
    await next.stop();
  }, 240_000);

  it('takes over the folder of a service that was killed', async () => {
    const killed = await startService({ VKPAY_DATA_DIR: dataDir });
    const exited = new Promise((resolve) => killed.process.once('exit', resolve));
    killed.process.kill('SIGKILL');
    await exited;
    expect(existsSync(join(dataDir, LOCK_FILE))).toBe(true);

    const next = await startService({ VKPAY_DATA_DIR: dataDir });
    await next.stop();
    expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);
  }, 240_000);
});
