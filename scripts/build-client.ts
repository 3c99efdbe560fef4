/**
 * npm run build:client: bundles each client and prints its size, minified and gzipped, beside the
 * others; fails when one reaches the 15 KB gzipped budget.
 *
 * - web: the browser SDK (vk-pay/client) to dist/client/vk-pay-client.js (ESM);
 * - uni-app: uni_modules/vk-pay-client/js_sdk/vk-pay-client.js (ESM, for uni-app's compiler);
 * - WeChat mini program: clients/wx-miniprogram/miniprogram_dist/index.js (CommonJS, what the
 *   devtools' "build npm" takes).
 *
 * The two packages' bundles and type declarations are committed (a uni_modules package is copied
 * into projects as it is); test/web/bundle-size.test.ts fails when they differ from a fresh build.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import ts from 'typescript';

export const BUDGET_BYTES = 15 * 1024;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export type ClientName = 'web' | 'uni-app' | 'wx-miniprogram';

export const CLIENTS: Record<
  ClientName,
  {
    entry: string;
    out: string;
    format: 'esm' | 'cjs';
    target: string;
    banner?: string;
    /** Where the type declarations go (the package's), and the one beside `out` that re-exports them. */
    types?: { dir: string; entry: string };
  }
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
    types: {
      dir: 'uni_modules/vk-pay-client/js_sdk/types',
      entry: 'uni_modules/vk-pay-client/js_sdk/vk-pay-client.d.ts',
    },
  },
  'wx-miniprogram': {
    entry: 'src/clients/wx-miniprogram/index.ts',
    out: 'clients/wx-miniprogram/miniprogram_dist/index.js',
    format: 'cjs',
    target: 'es2017',
    banner:
      '/* vk-pay-client for WeChat mini programs: built by scripts/build-client.ts from src/clients; do not edit. */',
    types: {
      dir: 'clients/wx-miniprogram/miniprogram_dist/types',
      entry: 'clients/wx-miniprogram/miniprogram_dist/index.d.ts',
    },
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

/**
 * The package's type declarations: one .d.ts per source file the entry reaches (under `types/`,
 * mirroring src/, relative imports as .js), and the entry's beside the bundle re-exporting them.
 * Answers path -> text; writes them (after clearing `types/`) unless `write` is false.
 */
export function declareClient(name: ClientName, write = true): Map<string, string> {
  const spec = CLIENTS[name];
  const files = new Map<string, string>();
  if (!spec.types) return files;
  const types = spec.types;
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
    types: [],
    strict: true,
    declaration: true,
    emitDeclarationOnly: true,
    allowImportingTsExtensions: true,
    verbatimModuleSyntax: true,
    skipLibCheck: true,
    rootDir: join(root, 'src'),
    outDir: join(root, types.dir),
    removeComments: false,
  };
  const program = ts.createProgram([join(root, spec.entry)], options);
  program.emit(undefined, (file, text) => {
    files.set(file, text.replace(/(from\s+['"]\.{1,2}\/[^'"]*)\.ts(['"])/g, '$1.js$2'));
  });
  const entryTypes = join(root, types.dir, relative(join(root, 'src'), join(root, spec.entry))).replace(
    /\.ts$/,
    '.js',
  );
  const from = relative(dirname(join(root, types.entry)), entryTypes);
  files.set(join(root, types.entry), `export * from './${from}';\n`);
  if (write) {
    rmSync(join(root, types.dir), { recursive: true, force: true });
    for (const [file, text] of files) {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, text);
    }
  }
  return files;
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
    declareClient(name);
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
