/**
 * The cashier's script and stylesheet. The script is bundled from src/web/cashier with esbuild on
 * first use and kept in memory, so a fresh clone serves it with no build step.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Asset {
  body: string;
  type: string;
  /** Short content hash, for cache-busting URLs and ETags. */
  hash: string;
}

/** The cashier's sources, found from this module whether it runs from src/ or compiled into dist/. */
function cashierSources(): string {
  let folder = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(folder, 'src', 'web', 'cashier');
    if (existsSync(join(candidate, 'main.ts'))) return `${candidate}/`;
    const parent = dirname(folder);
    if (parent === folder) return fileURLToPath(new URL('../web/cashier/', import.meta.url));
    folder = parent;
  }
}

const WEB_DIR = cashierSources();

export const asset = (body: string, type: string): Asset => ({
  body,
  type,
  hash: createHash('sha256').update(body).digest('hex').slice(0, 12),
});

export async function bundleCashierScript(): Promise<string> {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [`${WEB_DIR}main.ts`],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

let script: Promise<Asset> | null = null;
let style: Promise<Asset> | null = null;

export function cashierScript(): Promise<Asset> {
  script ??= bundleCashierScript().then((body) => asset(body, 'text/javascript; charset=utf-8'));
  // A failed build is retried on the next request rather than cached.
  script.catch(() => {
    script = null;
  });
  return script;
}

export function cashierStyle(): Promise<Asset> {
  style ??= readFile(`${WEB_DIR}cashier.css`, 'utf8').then((body) => asset(body, 'text/css; charset=utf-8'));
  return style;
}
