/**
 * Builds the example uni-app project (examples/uni-app) with its own uni CLI, for a platform, into
 * a fresh folder. Its node_modules come from `npm ci --prefix examples/uni-app` (CI does it after
 * the root install); without them this throws, so the tests that need a build fail rather than skip.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const EXAMPLE = join(process.cwd(), 'examples', 'uni-app');
const UNI_CLI = join(EXAMPLE, 'node_modules', '@dcloudio', 'vite-plugin-uni', 'bin', 'uni.js');

export interface ExampleBuild {
  outDir: string;
  ms: number;
  output: string;
}

export async function buildExample(
  platform: 'h5' | 'mp-weixin',
  env: Record<string, string> = {},
): Promise<ExampleBuild> {
  if (!existsSync(UNI_CLI))
    throw new Error(
      `the example uni-app project is not installed (${UNI_CLI} is missing): run npm ci --prefix examples/uni-app`,
    );
  const run = promisify(execFile);
  const outDir = mkdtempSync(join(tmpdir(), `vkpay-uni-${platform}-`));
  const started = Date.now();
  await run(process.execPath, [join(EXAMPLE, 'scripts', 'copy-uni-modules.mjs')], { cwd: EXAMPLE });
  const { stdout, stderr } = await run(
    process.execPath,
    [UNI_CLI, 'build', '-p', platform, '--outDir', outDir],
    {
      cwd: EXAMPLE,
      env: { ...process.env, ...env, NODE_ENV: 'production' },
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  return { outDir, ms: Date.now() - started, output: `${stdout}${stderr}` };
}
