import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const bin = join(import.meta.dirname, '../../bin/vk-pay.mjs');

function run(args: string[], env: Record<string, string>, untilReady = false) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env } });
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
  });
}

describe('vk-pay command', () => {
  it('starts on the embedded defaults, reports ready, and stops cleanly on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vkpay-cli-'));
    try {
      const result = await run(
        ['start'],
        { VKPAY_DATA_DIR: dir, VKPAY_PORT: '0', DATABASE_URL: '', REDIS_URL: '' },
        true,
      );
      expect(result.code).toBe(0);
      const ready = JSON.parse(result.stdout.split('\n').find((line) => line.includes('VK-Pay ready'))!);
      expect(ready).toMatchObject({
        storage: 'pglite',
        location: dir,
        cache: 'memory',
        sandbox: true,
        providers: ['wxpay', 'alipay', 'appleiap', 'wxpay-virtual', 'douyin'],
      });
      expect(ready.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(result.stderr).toContain('Take a first payment');
      expect(result.stdout).toContain('VK-Pay stopped');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a bad setting with a clear message', async () => {
    const result = await run(['migrate'], { VKPAY_MAX_FEN: '10.5', DATABASE_URL: '' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('VKPAY_MAX_FEN must be an integer');
  });
});
