/**
 * The console's script and stylesheet: the script bundled from src/web/console with esbuild on
 * first use (with uPlot for the charts), the stylesheet console.css followed by uPlot's and the
 * folder's other stylesheets, both kept in memory and served under URLs carrying their content
 * hash, so a browser may keep them for good.
 */
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { type Asset, asset, bundlePageScript, webSources } from './checkout-assets.ts';

const WEB_DIR = webSources('console');

export interface ConsoleAssets {
  script: Asset;
  style: Asset;
}

let assets: Promise<ConsoleAssets> | null = null;

async function consoleStyle(): Promise<string> {
  const pages = (await readdir(WEB_DIR))
    .filter((name) => name.endsWith('.css') && name !== 'console.css')
    .sort();
  const files = [
    `${WEB_DIR}console.css`,
    createRequire(import.meta.url).resolve('uplot/dist/uPlot.min.css'),
    ...pages.map((name) => `${WEB_DIR}${name}`),
  ];
  return (await Promise.all(files.map((file) => readFile(file, 'utf8')))).join('\n');
}

export function consoleAssets(): Promise<ConsoleAssets> {
  assets ??= Promise.all([
    bundlePageScript(WEB_DIR).then((body) => asset(body, 'text/javascript; charset=utf-8')),
    consoleStyle().then((body) => asset(body, 'text/css; charset=utf-8')),
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
