/**
 * The cashier's static assets (script, stylesheet, icon) and how they are sent. The script is
 * bundled from src/web/cashier with esbuild on first use, so a fresh clone serves it with no build
 * step; each asset is then compressed once (brotli, gzip) and kept in memory. The cashier's pages
 * are compressed here too, on the fly, since each one is rendered for one buyer.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { brotliCompress, brotliCompressSync, constants, gzip, gzipSync } from 'node:zlib';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** The content codings the cashier sends, in the order it prefers them. */
export type ContentCoding = 'br' | 'gzip' | 'identity';

export interface Asset {
  body: string;
  type: string;
  /** Short content hash: the versioned URL's and the ETag's. */
  hash: string;
  /** The body in each content coding, compressed once. */
  coded: Record<ContentCoding, Buffer>;
}

/** A versioned URL never changes content: a year, and no revalidation. */
export const IMMUTABLE = 'public, max-age=31536000, immutable';
/**
 * An unversioned URL, or a version this instance does not have (another one of a rolling restart
 * rendered the page): the current content, kept briefly so the next page's versioned URL wins.
 */
export const SHORT_LIVED = 'public, max-age=60';

/** /favicon.ico has no version in its URL, and an icon seldom changes: a day. */
export const ROOT_ICON_CACHE = 'public, max-age=86400';

/** Requests for the assets, which the per-client limit does not count. */
export function isAssetUrl(url: string): boolean {
  return url.startsWith('/checkout/assets/') || url === '/favicon.ico' || url.startsWith('/favicon.ico?');
}

/**
 * The sources of one of the pages' scripts (src/web/<name>/), found from this module whether it
 * runs from src/ or compiled into dist/.
 */
export function webSources(name: string): string {
  let folder = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(folder, 'src', 'web', name);
    if (existsSync(join(candidate, 'main.ts'))) return `${candidate}/`;
    const parent = dirname(folder);
    if (parent === folder) return fileURLToPath(new URL(`../web/${name}/`, import.meta.url));
    folder = parent;
  }
}

const WEB_DIR = webSources('cashier');
const brotli = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

export async function asset(body: string, type: string): Promise<Asset> {
  const raw = Buffer.from(body);
  // Once per asset, so the smallest output is worth the slowest setting.
  const [br, gz] = await Promise.all([
    brotli(raw, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
        [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
        [constants.BROTLI_PARAM_SIZE_HINT]: raw.byteLength,
      },
    }),
    gzipAsync(raw, { level: constants.Z_BEST_COMPRESSION }),
  ]);
  return {
    body,
    type,
    hash: createHash('sha256').update(raw).digest('hex').slice(0, 12),
    coded: { br, gzip: gz, identity: raw },
  };
}

export function bundleCashierScript(): Promise<string> {
  return bundlePageScript(WEB_DIR);
}

/** A page's script (`<folder>main.ts`) bundled for the browser, minified, in memory. */
export async function bundlePageScript(folder: string): Promise<string> {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [`${folder}main.ts`],
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

/** Loads an asset on first use; a failure is retried on the next request rather than kept. */
function once(load: () => Promise<Asset>): () => Promise<Asset> {
  let loaded: Promise<Asset> | null = null;
  return () => {
    if (!loaded) {
      loaded = load();
      loaded.catch(() => {
        loaded = null;
      });
    }
    return loaded;
  };
}

const source = (file: string) => readFile(`${WEB_DIR}${file}`, 'utf8');

export const cashierScript = once(async () =>
  asset(await bundleCashierScript(), 'text/javascript; charset=utf-8'),
);
export const cashierStyle = once(async () => asset(await source('cashier.css'), 'text/css; charset=utf-8'));
export const cashierIcon = once(async () => asset(await source('favicon.svg'), 'image/svg+xml'));

/** The file names the assets are served under: `<name>.<ext>`, versioned `<name>.<hash>.<ext>`. */
const ASSETS: Record<string, () => Promise<Asset>> = {
  'cashier.js': cashierScript,
  'cashier.css': cashierStyle,
  'favicon.svg': cashierIcon,
};

/**
 * The asset a file name under /checkout/assets/ asks for, with the cache life its URL earns; null
 * for a name that is no asset.
 */
export async function assetFor(file: string): Promise<{ asset: Asset; cacheControl: string } | null> {
  const match = /^([a-z]+)(?:\.([0-9a-f]{12}))?\.([a-z]+)$/.exec(file);
  const load = match ? ASSETS[`${match[1]}.${match[3]}`] : undefined;
  if (!match || !load) return null;
  const asset = await load();
  return { asset, cacheControl: match[2] === asset.hash ? IMMUTABLE : SHORT_LIVED };
}

/**
 * The coding to answer in, from Accept-Encoding: brotli, then gzip, else the body as it is. A coding
 * with q=0 is refused; `*` stands for any coding the header does not name.
 */
export function preferredCoding(acceptEncoding: string | string[] | undefined): ContentCoding {
  const header = Array.isArray(acceptEncoding) ? acceptEncoding.join(',') : (acceptEncoding ?? '');
  const weights = new Map<string, number>();
  for (const item of header.split(',')) {
    const [name, ...params] = item.trim().toLowerCase().split(';');
    if (!name) continue;
    const q = params.map((param) => /^\s*q\s*=\s*([\d.]+)\s*$/.exec(param)).find(Boolean);
    const weight = q ? Number(q[1]) : 1;
    weights.set(name === 'x-gzip' ? 'gzip' : name, Number.isFinite(weight) ? weight : 0);
  }
  const accepts = (coding: string) => (weights.get(coding) ?? weights.get('*') ?? 0) > 0;
  if (accepts('br')) return 'br';
  if (accepts('gzip')) return 'gzip';
  return 'identity';
}

/** Adds Accept-Encoding to Vary, beside what is there (the cross-origin checkout's Origin). */
function varyOnCoding(reply: FastifyReply): void {
  const names = String(reply.getHeader('vary') ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  if (!names.some((name) => name.toLowerCase() === 'accept-encoding')) names.push('Accept-Encoding');
  reply.header('vary', names.join(', '));
}

/** Whether If-None-Match names this ETag (the weak comparison RFC 9110 asks of GET). */
function notModified(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(',').some((tag) => {
    const candidate = tag.trim();
    return candidate === '*' || candidate.replace(/^W\//, '') === etag;
  });
}

/**
 * Sends an asset in the coding the client prefers, with a strong ETag per coding (the bytes differ)
 * and 304 when the client already holds them.
 */
export function sendAsset(
  request: FastifyRequest,
  reply: FastifyReply,
  asset: Asset,
  cacheControl: string,
): FastifyReply {
  const coding = preferredCoding(request.headers['accept-encoding']);
  const etag = `"${asset.hash}${coding === 'identity' ? '' : `-${coding}`}"`;
  varyOnCoding(reply);
  reply.header('cache-control', cacheControl).header('etag', etag);
  if (notModified(request.headers['if-none-match'], etag)) return reply.status(304).send();
  if (coding !== 'identity') reply.header('content-encoding', coding);
  return reply.type(asset.type).send(asset.coded[coding]);
}

/**
 * A page's HTML in the coding the client prefers. Pages are small and rendered per request, so a
 * fast brotli setting beats the slowest one: the bytes saved by the last levels cost milliseconds.
 */
export function compressPage(
  request: FastifyRequest,
  reply: FastifyReply,
  html: string | Buffer,
): string | Buffer {
  varyOnCoding(reply);
  const coding = preferredCoding(request.headers['accept-encoding']);
  if (coding === 'identity') return html;
  const raw = typeof html === 'string' ? Buffer.from(html) : html;
  reply.header('content-encoding', coding);
  return coding === 'br'
    ? brotliCompressSync(raw, {
        params: {
          [constants.BROTLI_PARAM_QUALITY]: 5,
          [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
          [constants.BROTLI_PARAM_SIZE_HINT]: raw.byteLength,
        },
      })
    : gzipSync(raw, { level: 6 });
}
