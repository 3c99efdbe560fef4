/**
 * The buyer's cashier page in Chromium (Debian's, through playwright-core), against the service in
 * its own process: bytes over the wire for a first and a second visit, requests, first contentful
 * paint, and the status check. Beside it, in the same run, the same page with compression off (the
 * browser offers no content coding, so the service answers identity). Each cold load is a fresh
 * browser context, so nothing is cached; the warm visit opens another checkout in that context.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, CDPSession } from 'playwright-core';
import { dropSchema } from '../src/store/db.ts';
import { DESKTOP, hasChromium, launchChromium, skipReason } from '../test/browser/chromium.ts';
import { startService, writeConfig } from './service.ts';
import { type Emulators, postJson, registerWxpayMerchant } from './support/emulators.ts';
import type { SummaryRow } from './support/summary.ts';

/** One page view as the browser saw it. */
export interface PageView {
  /** Bytes received for every response, headers included (CDP loadingFinished). */
  transferredBytes: number;
  /** Response bodies as sent, compressed or not (Resource Timing encodedBodySize). */
  bodyBytes: number;
  /** Network requests made, cache hits not counted. */
  requests: number;
  /** First contentful paint, ms after navigation start (Paint Timing). */
  fcpMs: number;
  /**
   * DOMContentLoaded's end, ms after navigation start: the deferred script has run, so the buyer
   * sees the payment methods.
   */
  readyMs: number;
  /** Requests to /status before the load event (the page's first state is in its HTML). */
  statusBeforeLoad: number;
}

export interface NetworkResult {
  /** Medians over the runs. */
  cold: PageView;
  warm: PageView;
  /** Requests and ms of the page's first status check, after the load. */
  statusCheck: { requests: number; ms: number };
}

export interface CashierPageBenchResult {
  runs: number;
  /** The network each pair was measured on: the loopback, and DevTools' "Fast 3G" throttling. */
  networks: { name: string; compressed: NetworkResult; identity: NetworkResult }[];
}

/** The browser's Performance Timeline, as much of it as is read here (this file compiles for Node). */
interface BrowserTiming {
  getEntriesByType(type: 'paint' | 'navigation' | 'resource'): {
    name: string;
    startTime: number;
    transferSize: number;
    encodedBodySize: number;
    domContentLoadedEventEnd?: number;
  }[];
}

/** DevTools' "Fast 3G" preset, where bytes cost time as they do on a phone. */
const FAST_3G = { offline: false, latency: 562.5, downloadThroughput: 180_000, uploadThroughput: 84_375 };

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
};

const isStatus = (address: string) => new URL(address).pathname.endsWith('/status');

async function watchNetwork(cdp: CDPSession, compressed: boolean, throttled: boolean) {
  await cdp.send('Network.enable');
  // Only identity offered: the baseline's uncompressed answers.
  if (!compressed)
    await cdp.send('Network.setExtraHTTPHeaders', { headers: { 'Accept-Encoding': 'identity' } });
  if (throttled) await cdp.send('Network.emulateNetworkConditions', FAST_3G);
  const requests = new Map<string, string>();
  const transferred = new Map<string, number>();
  const codings = new Set<string>();
  let statusAnswered: () => void = () => {};
  const firstStatus = new Promise<void>((resolve) => {
    statusAnswered = resolve;
  });
  cdp.on('Network.requestWillBeSent', (event) => requests.set(event.requestId, event.request.url));
  // A cache hit is announced as a request too; it never reaches the network.
  cdp.on('Network.requestServedFromCache', (event) => requests.delete(event.requestId));
  cdp.on('Network.responseReceived', (event) => {
    if (event.response.fromDiskCache || event.response.fromPrefetchCache) requests.delete(event.requestId);
    const headers = Object.entries(event.response.headers);
    codings.add(headers.find(([name]) => name.toLowerCase() === 'content-encoding')?.[1] ?? 'identity');
  });
  cdp.on('Network.loadingFinished', (event) => {
    transferred.set(event.requestId, event.encodedDataLength);
    if (isStatus(requests.get(event.requestId) ?? 'http://x/')) statusAnswered();
  });
  const pageRequests = () => [...requests].filter(([, url]) => !isStatus(url));
  return {
    codings,
    firstStatus,
    statusRequests: () => [...requests.values()].filter(isStatus).length,
    /** The page and what it loads, the status checks apart. */
    requests: () => pageRequests().length,
    transferredBytes: () => pageRequests().reduce((sum, [id]) => sum + (transferred.get(id) ?? 0), 0),
  };
}

/** Opens `url` in a new page of `context` and measures it up to the first status check. */
async function view(
  context: BrowserContext,
  url: string,
  compressed: boolean,
  throttled: boolean,
): Promise<{ view: PageView; statusCheck: { requests: number; ms: number } }> {
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  const network = await watchNetwork(cdp, compressed, throttled);
  await page.goto(url, { waitUntil: 'load' });
  const statusBeforeLoad = network.statusRequests();
  const loadedAt = Date.now();
  const [fcpMs, readyMs, bodyBytes] = await page.evaluate(async () => {
    const timing = performance as unknown as BrowserTiming;
    for (let waited = 0; ; waited += 20) {
      const fcp = timing.getEntriesByType('paint').find((entry) => entry.name === 'first-contentful-paint');
      if (fcp) {
        // A body from the cache keeps its size here but crossed no network (transferSize 0).
        const fetched = [
          ...timing.getEntriesByType('navigation'),
          ...timing.getEntriesByType('resource'),
        ].filter((entry) => entry.transferSize > 0);
        const ready = timing.getEntriesByType('navigation')[0]?.domContentLoadedEventEnd ?? 0;
        return [
          fcp.startTime,
          ready,
          fetched.reduce((sum, entry) => sum + entry.encodedBodySize, 0),
        ] as const;
      }
      if (waited > 15_000) throw new Error('the page never painted');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });
  // The page polls its order's status from a second after it starts; one check is one request.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    network.firstStatus,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error('the page checked no status within 15 s')), 15_000);
    }),
  ]).finally(() => clearTimeout(timer));
  const statusCheck = { requests: network.statusRequests(), ms: Date.now() - loadedAt };
  // The two runs differ in what they say they differ in.
  const expected = compressed ? 'br' : 'identity';
  if (!network.codings.has(expected) || (!compressed && network.codings.size > 1))
    throw new Error(`expected ${expected} answers, the browser got ${[...network.codings].join(', ')}`);
  const result: PageView = {
    transferredBytes: network.transferredBytes(),
    bodyBytes,
    requests: network.requests(),
    fcpMs,
    readyMs,
    statusBeforeLoad,
  };
  await page.close();
  return { view: result, statusCheck };
}

/** A first visit in a fresh context, then a warm one (another checkout) in the same context. */
async function visits(
  browser: Browser,
  checkoutUrl: () => Promise<string>,
  compressed: boolean,
  throttled: boolean,
) {
  const context = await browser.newContext(DESKTOP);
  try {
    const cold = await view(context, await checkoutUrl(), compressed, throttled);
    const warm = await view(context, await checkoutUrl(), compressed, throttled);
    return { cold: cold.view, statusCheck: cold.statusCheck, warm: warm.view };
  } finally {
    await context.close();
  }
}

type Visits = Awaited<ReturnType<typeof visits>>;

function medianView(views: PageView[]): PageView {
  const mid = (pick: (view: PageView) => number) => median(views.map(pick));
  return {
    transferredBytes: mid((v) => v.transferredBytes),
    bodyBytes: mid((v) => v.bodyBytes),
    requests: mid((v) => v.requests),
    fcpMs: mid((v) => v.fcpMs),
    readyMs: mid((v) => v.readyMs),
    statusBeforeLoad: Math.max(...views.map((v) => v.statusBeforeLoad)),
  };
}

/**
 * `runs` compressed and uncompressed visits, taken in turn so that whatever else the machine does
 * weighs on both alike.
 */
async function measure(
  browser: Browser,
  checkoutUrl: () => Promise<string>,
  runs: number,
  throttled: boolean,
): Promise<{ compressed: NetworkResult; identity: NetworkResult }> {
  const taken = {
    compressed: [] as Visits[],
    identity: [] as Visits[],
  };
  for (let run = 0; run < runs; run++) {
    taken.compressed.push(await visits(browser, checkoutUrl, true, throttled));
    taken.identity.push(await visits(browser, checkoutUrl, false, throttled));
  }
  const summary = (all: Visits[]): NetworkResult => ({
    cold: medianView(all.map((visit) => visit.cold)),
    warm: medianView(all.map((visit) => visit.warm)),
    statusCheck: {
      requests: Math.max(...all.map((visit) => visit.statusCheck.requests)),
      ms: median(all.map((visit) => visit.statusCheck.ms)),
    },
  });
  return { compressed: summary(taken.compressed), identity: summary(taken.identity) };
}

/** Null, with the reason printed, when Chromium is not installed. */
export async function benchCashierPage(options: {
  emulators: Emulators;
  /** PostgreSQL for the service, in a schema of its own; null runs it on PGlite. */
  databaseUrl: string | null;
  runs: number;
  out: (line: string) => void;
}): Promise<CashierPageBenchResult | null> {
  if (!hasChromium) {
    options.out(skipReason.replace('browser tests', 'cashier page'));
    return null;
  }
  const dir = mkdtempSync(join(tmpdir(), 'vkpay-bench-cashier-'));
  const [api, callback] = await Promise.all([
    registerWxpayMerchant(options.emulators.wxpayUrl),
    registerWxpayMerchant(options.emulators.wxpayUrl),
  ]);
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  const service = await startService(
    writeConfig(dir, options.emulators.wxpayUrl, api, callback),
    options.databaseUrl ? { databaseUrl: options.databaseUrl, schema } : { dataDir: join(dir, 'data') },
  );
  const browser = await launchChromium();
  try {
    let sequence = 0;
    const checkoutUrl = async () => {
      sequence += 1;
      const answer = await postJson<{ code: number; data: { checkout: { token: string } } }>(
        `${service.ready.url}/api/checkouts`,
        {
          out_trade_no: `PAGE${Date.now()}${sequence}`,
          total_fee: 1990,
          subject: 'VIP 会员 1 个月',
          type: 'recharge',
        },
      );
      if (answer.code !== 0) throw new Error(`checkout refused: ${JSON.stringify(answer)}`);
      return `${service.ready.url}/checkout/${answer.data.checkout.token}`;
    };
    // One unmeasured load, so the service has bundled and compressed the assets.
    await visits(browser, checkoutUrl, true, false);
    const networks: CashierPageBenchResult['networks'] = [];
    for (const [name, throttled] of [
      ['loopback', false],
      ['Fast 3G', true],
    ] as const) {
      networks.push({ name, ...(await measure(browser, checkoutUrl, options.runs, throttled)) });
    }
    return { runs: options.runs, networks };
  } finally {
    await browser.close();
    await service.stop();
    if (options.databaseUrl) await dropSchema(options.databaseUrl, schema);
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  }
}

/** The first visit's budget, every response's bytes on the wire counted. */
export const FIRST_VISIT_TARGET_BYTES = 25 * 1024;

const kb = (bytes: number) => (bytes / 1024).toFixed(1);
const msText = (ms: number) => ms.toFixed(0);
const ratio = (value: number, baseline: number) => (value / baseline).toFixed(3);

/** Prints the figures beside their uncompressed baseline; returns the summary's rows. */
export function printCashierPage(result: CashierPageBenchResult, out: (line: string) => void): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const { name, compressed, identity } of result.networks) {
    const { cold, warm } = compressed;
    out(
      `${name.padEnd(9)} first visit ${kb(cold.transferredBytes)} KB over the wire (bodies ${kb(cold.bodyBytes)} KB) ` +
        `in ${cold.requests} requests, FCP ${msText(cold.fcpMs)} ms, ready ${msText(cold.readyMs)} ms; uncompressed ` +
        `${kb(identity.cold.transferredBytes)} KB (bodies ${kb(identity.cold.bodyBytes)} KB), FCP ` +
        `${msText(identity.cold.fcpMs)} ms, ready ${msText(identity.cold.readyMs)} ms: bytes ratio ` +
        `${ratio(cold.transferredBytes, identity.cold.transferredBytes)}, FCP ratio ${ratio(cold.fcpMs, identity.cold.fcpMs)}, ` +
        `ready ratio ${ratio(cold.readyMs, identity.cold.readyMs)}`,
    );
    out(
      `${''.padEnd(9)} warm visit ${kb(warm.transferredBytes)} KB in ${warm.requests} request(s), FCP ${msText(warm.fcpMs)} ms; ` +
        `uncompressed ${kb(identity.warm.transferredBytes)} KB in ${identity.warm.requests}, FCP ${msText(identity.warm.fcpMs)} ms`,
    );
    out(
      `${''.padEnd(9)} status: ${cold.statusBeforeLoad} requests before load (the first state is in the page); the ` +
        `first check is ${compressed.statusCheck.requests} request, answered ${msText(compressed.statusCheck.ms)} ms after load`,
    );
    rows.push({
      figure: `cashier first visit KB on the wire (${name})`,
      value: kb(cold.transferredBytes),
      baseline: `${kb(identity.cold.transferredBytes)} KB uncompressed`,
      ratio: ratio(cold.transferredBytes, identity.cold.transferredBytes),
      target: '<= 25 KB',
      check: cold.transferredBytes <= FIRST_VISIT_TARGET_BYTES,
    });
    rows.push({
      figure: `cashier first contentful paint ms (${name})`,
      value: msText(cold.fcpMs),
      baseline: `${msText(identity.cold.fcpMs)} ms uncompressed`,
      ratio: ratio(cold.fcpMs, identity.cold.fcpMs),
    });
    rows.push({
      figure: `cashier ready (DOMContentLoaded) ms (${name})`,
      value: msText(cold.readyMs),
      baseline: `${msText(identity.cold.readyMs)} ms uncompressed`,
      ratio: ratio(cold.readyMs, identity.cold.readyMs),
    });
  }
  const loopback = result.networks[0]!;
  rows.push({
    figure: 'cashier warm visit KB on the wire',
    value: kb(loopback.compressed.warm.transferredBytes),
    baseline: `${kb(loopback.identity.warm.transferredBytes)} KB uncompressed`,
    ratio: ratio(loopback.compressed.warm.transferredBytes, loopback.identity.warm.transferredBytes),
  });
  const checks = result.networks.flatMap((network) => [network.compressed, network.identity]);
  rows.push({
    figure: 'cashier status check: requests (0 before load)',
    value: String(Math.max(...checks.map((check) => check.statusCheck.requests))),
    target: '1 round trip',
    check: checks.every((check) => check.statusCheck.requests === 1 && check.cold.statusBeforeLoad === 0),
  });
  return rows;
}
