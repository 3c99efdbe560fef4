/**
 * npm run build:client: bundles the browser SDK (vk-pay/client) to dist/client/vk-pay-client.js,
 * prints its size minified and gzipped, and fails when the gzipped size reaches the 15 KB budget.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

export const BUDGET_BYTES = 15 * 1024;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function buildClient(): Promise<{ file: string; bytes: number; gzipBytes: number }> {
  const result = await build({
    entryPoints: [join(root, 'src/web/index.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const code = result.outputFiles[0]!.contents;
  const file = join(root, 'dist/client/vk-pay-client.js');
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, code);
  return { file, bytes: code.byteLength, gzipBytes: gzipSync(code, { level: 9 }).byteLength };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { file, bytes, gzipBytes } = await buildClient();
  const kb = (n: number) => `${(n / 1024).toFixed(2)} KB`;
  console.log(
    `vk-pay/client: ${file}\n  minified ${kb(bytes)}, gzipped ${kb(gzipBytes)} (budget ${kb(BUDGET_BYTES)})`,
  );
  if (gzipBytes >= BUDGET_BYTES) {
    console.error('vk-pay/client is over its 15 KB gzipped budget');
    process.exit(1);
  }
}
