/**
 * npm run build:client: bundles each client and prints its size, minified and gzipped, beside the
 * others; fails when one reaches the 15 KB gzipped budget.
 *
 * - web: the browser SDK (vk-pay/client) to dist/client/vk-pay-client.js (ESM);
 * - uni-app: uni_modules/vk-pay-client/js_sdk/vk-pay-client.js (ESM, for uni-app's compiler);
 * - WeChat mini program: clients/wx-miniprogram/miniprogram_dist/index.js (CommonJS, what the
 *   devtools' "build npm" takes).
 *
 * The two packages' bundles are committed (a uni_modules package is copied into projects as it
 * is); test/web/bundle-size.test.ts fails when they differ from a fresh build.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

export const BUDGET_BYTES = 15 * 1024;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export type ClientName = 'web' | 'uni-app' | 'wx-miniprogram';

export const CLIENTS: Record<
  ClientName,
  { entry: string; out: string; format: 'esm' | 'cjs'; target: string; banner?: string }
> = {
  web: { entry: 'src/web/index.ts', out: 'dist/client/vk-pay-client.js', format: 'esm', target: 'es2020' },
  // Mini program runtimes and older Android web views: ES2017 (no object spread or ?. left).
  'uni-app': {
    entry: 'src/clients/uni/index.ts',
    out: 'uni_modules/vk-pay-client/js_sdk/vk-pay-client.js',
    format: 'esm',
    target: 'es2017',
    banner:
      '/* vk-pay-client for uni-app: built by scripts/build-client.ts from src/clients; do not edit. */',
  },
  'wx-miniprogram': {
    entry: 'src/clients/wx-miniprogram/index.ts',
    out: 'clients/wx-miniprogram/miniprogram_dist/index.js',
    format: 'cjs',
    target: 'es2017',
    banner:
      '/* vk-pay-client for WeChat mini programs: built by scripts/build-client.ts from src/clients; do not edit. */',
  },
};

export interface BuiltClient {
  name: ClientName;
  file: string;
  code: Uint8Array;
  bytes: number;
  gzipBytes: number;
}

/** Bundles one client in memory (write: false) or to its file. */
export async function bundleClient(name: ClientName, write = true): Promise<BuiltClient> {
  const spec = CLIENTS[name];
  const result = await build({
    entryPoints: [join(root, spec.entry)],
    bundle: true,
    format: spec.format,
    platform: spec.format === 'cjs' ? 'neutral' : 'browser',
    target: spec.target,
    minify: true,
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
    ...(spec.banner ? { banner: { js: spec.banner } } : {}),
  });
  const code = result.outputFiles[0]!.contents;
  const file = join(root, spec.out);
  if (write) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, code);
  }
  return { name, file, code, bytes: code.byteLength, gzipBytes: gzipSync(code, { level: 9 }).byteLength };
}

/** The web client, as before: dist/client/vk-pay-client.js. */
export async function buildClient(): Promise<{ file: string; bytes: number; gzipBytes: number }> {
  const { file, bytes, gzipBytes } = await bundleClient('web');
  return { file, bytes, gzipBytes };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const kb = (n: number) => `${(n / 1024).toFixed(2)} KB`;
  let over = false;
  console.log(`client bundles (budget ${kb(BUDGET_BYTES)} gzipped each):`);
  for (const name of Object.keys(CLIENTS) as ClientName[]) {
    const { file, bytes, gzipBytes } = await bundleClient(name);
    console.log(
      `  ${name.padEnd(15)} minified ${kb(bytes).padStart(9)}, gzipped ${kb(gzipBytes).padStart(8)}  ${file.slice(root.length + 1)}`,
    );
    if (gzipBytes >= BUDGET_BYTES) {
      console.error(`${name} is over its 15 KB gzipped budget`);
      over = true;
    }
  }
  if (over) process.exit(1);
}
