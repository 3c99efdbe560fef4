/**
 * The console's script and stylesheet: the script bundled from src/web/console with esbuild on
 * first use, both kept in memory and served under URLs carrying their content hash, so a browser
 * may keep them for good.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Asset, asset } from './checkout-assets.ts';

/** The console's sources, found from this module whether it runs from src/ or compiled into dist/. */
function consoleSources(): string {
  let folder = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(folder, 'src', 'web', 'console');
    if (existsSync(join(candidate, 'main.ts'))) return `${candidate}/`;
    const parent = dirname(folder);
    if (parent === folder) return fileURLToPath(new URL('../web/console/', import.meta.url));
    folder = parent;
  }
}

const WEB_DIR = consoleSources();

async function bundleConsoleScript(): Promise<string> {
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

export interface ConsoleAssets {
  script: Asset;
  style: Asset;
}

let assets: Promise<ConsoleAssets> | null = null;

export function consoleAssets(): Promise<ConsoleAssets> {
  assets ??= Promise.all([
    bundleConsoleScript().then((body) => asset(body, 'text/javascript; charset=utf-8')),
    readFile(`${WEB_DIR}console.css`, 'utf8').then((body) => asset(body, 'text/css; charset=utf-8')),
  ]).then(([script, style]) => ({ script, style }));
  // A failed build is tried again on the next request rather than kept.
  assets.catch(() => {
    assets = null;
  });
  return assets;
}

/** The hashed URLs the pages link to. */
export function assetUrls(loaded: ConsoleAssets): { script: string; style: string } {
  return {
    script: `/console/assets/console.${loaded.script.hash}.js`,
    style: `/console/assets/console.${loaded.style.hash}.css`,
  };
}
