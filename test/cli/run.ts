/** Runs the `vk-pay` command in a child process, as an operator would: to its end, or until it is ready. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { type Child, startChild } from '../../bench/support/children.ts';

const bin = join(import.meta.dirname, '../../bin/vk-pay.mjs');

export type CommandEnv = Record<string, string | undefined>;

/** The settings of the machine running the tests left out, so each test says what it sets. */
const CLEAN: CommandEnv = {
  VKPAY_CONFIG: undefined,
  VKPAY_ENV: undefined,
  VKPAY_DATA_DIR: undefined,
  VKPAY_PORT: '0',
  VKPAY_PUBLIC_URL: undefined,
  VKPAY_LOG_LEVEL: 'info',
  VKPAY_SYNC_INTERVAL_MS: '0',
  VKPAY_ALLOW_LOCAL_CACHE: undefined,
  DATABASE_URL: undefined,
  REDIS_URL: undefined,
};

function environment(env: CommandEnv): NodeJS.ProcessEnv {
  const merged: NodeJS.ProcessEnv = { ...process.env, ...CLEAN, ...env };
  for (const [name, value] of Object.entries(merged)) if (value === undefined) delete merged[name];
  return merged;
}

/** Runs a command to its end. */
export function runCommand(
  args: string[],
  env: CommandEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: environment(env) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts `vk-pay serve` and waits for its ready line; `stop()` sends SIGTERM. */
export function startService(env: CommandEnv): Promise<Child<{ url: string; location: string }>> {
  return startChild({
    args: [bin, 'serve'],
    readyMsg: 'VK-Pay ready',
    timeoutMs: 120_000,
    env: { ...CLEAN, ...env },
  });
}
