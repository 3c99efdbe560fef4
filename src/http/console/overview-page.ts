/**
 * The console's overview page, rendered on the server: a range and merchant form (GET, works
 * without the script), the totals, the charts' places with their captions, and every figure in
 * tables, which are the charts' text alternative. The figures also travel in a JSON block the
 * console script draws the uPlot charts from and refreshes.
 */

import type { Bucket, Overview } from '../../console/queries.ts';
import type { Lang } from '../../core/errors.ts';
import type { ConsoleUser } from '../../service/console/accounts.ts';
import { escapeHtml, field, layout, type PageContext } from '../console-pages.ts';
import { text } from '../console-texts.ts';
import { type OverviewTextKey, overviewText } from './overview-texts.ts';

/** The ranges the page offers, each ending now. */
export const RANGES = {
  '1h': 3600_000,
  '24h': 86_400_000,
  '7d': 7 * 86_400_000,
  '30d': 30 * 86_400_000,
  '90d': 90 * 86_400_000,
} as const;
export type OverviewRange = keyof typeof RANGES;

/** What the page shows, and what its JSON answer carries. */
export interface OverviewView {
  user: ConsoleUser;
  range: OverviewRange;
  /** 'all', or one merchant id. */
  merchant: string;
  /** The merchants to choose from: the operator's, or every merchant with orders. */
  merchants: string[];
  /** Whether the operator is limited to some merchants. */
  scoped: boolean;
  /** When the figures were read. */
  at: string;
  overview: Overview;
}

const ot = (lang: Lang, key: OverviewTextKey, values?: Record<string, string | number>) =>
  escapeHtml(overviewText(lang, key, values));

// The same formatting as the console script's (src/web/console/overview.ts), so a refresh changes
// only the numbers.
const grouped = (value: number) => String(value).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
export const formatCount = (value: number) => grouped(value);
export const formatYuan = (fen: number) =>
  `¥${grouped(Math.trunc(fen / 100))}.${String(fen % 100).padStart(2, '0')}`;
export const formatRate = (rate: number | null) => (rate === null ? '—' : `${(rate * 100).toFixed(1)}%`);
export const formatMs = (ms: number | null) => (ms === null ? '—' : `${grouped(ms)} ms`);
/** A time in China (UTC+8): the buckets start at China midnight. */
export const formatChinaTime = (iso: string, withSeconds = false) =>
  new Date(Date.parse(iso) + 8 * 3600_000)
    .toISOString()
    .slice(0, withSeconds ? 19 : 16)
    .replace('T', ' ');

const WIDTHS: Record<Bucket, OverviewTextKey> = {
  '1m': 'width1m',
  '5m': 'width5m',
  '15m': 'width15m',
  '1h': 'width1h',
  '6h': 'width6h',
  '1d': 'width1d',
};

function rangeForm(ctx: PageContext, view: OverviewView): string {
  const { lang } = ctx;
  const ranges = (Object.keys(RANGES) as OverviewRange[])
    .map(
      (range) =>
        `<option value="${range}"${range === view.range ? ' selected' : ''}>${ot(lang, `range${range}`)}</option>`,
    )
    .join('');
  const everyone = view.scoped
    ? view.merchants.length > 1
      ? ot(lang, 'allMine')
      : ''
    : ot(lang, 'allMerchants');
  const merchants = [
    ...(everyone
      ? [`<option value="all"${view.merchant === 'all' ? ' selected' : ''}>${everyone}</option>`]
      : []),
    ...view.merchants.map(
      (id) =>
        `<option value="${escapeHtml(id)}"${id === view.merchant ? ' selected' : ''}>${escapeHtml(id)}</option>`,
    ),
  ].join('');
  return `<form method="get" action="${escapeHtml(ctx.href('/console').split('?')[0]!)}" class="filters" id="overview-form">
${ctx.href('').includes('lang=') ? `<input type="hidden" name="lang" value="${lang}">` : ''}
${field('overview-range', overviewText(lang, 'range'), `<select id="overview-range" name="range">${ranges}</select>`)}
${field('overview-merchant', overviewText(lang, 'merchant'), `<select id="overview-merchant" name="merchant">${merchants}</select>`)}
<button type="submit">${ot(lang, 'show')}</button></form>`;
}

function totals(ctx: PageContext, lang: Lang, overview: Overview): string {
  const { totals: sum, alert, reviews, alerts } = overview;
  const figure = (name: string, label: string, value: string, note = '') =>
    `<div class="figure"><dt>${label}</dt><dd data-figure="${name}">${value}</dd>${note ? `<dd class="note" data-figure="${name}-note">${note}</dd>` : ''}</div>`;
  const over = sum.errorRate !== null && sum.errorRate > alert.threshold;
  return `<dl class="figures" data-testid="overview-totals">
${figure('created', ot(lang, 'created'), formatCount(sum.created))}
${figure('paid', ot(lang, 'paid'), formatCount(sum.paid))}
${figure('successRate', ot(lang, 'successRate'), formatRate(sum.successRate))}
${figure('paidFen', ot(lang, 'paidAmount'), formatYuan(sum.paidFen))}
${figure('refunds', ot(lang, 'refunds'), formatCount(sum.refunds), formatYuan(sum.refundFen))}
${figure(
  'errorRate',
  ot(lang, 'errorRate'),
  `<span${over ? ' class="over"' : ''}>${formatRate(sum.errorRate)}</span>`,
  ot(lang, 'errorRateOf', {
    errors: formatCount(sum.errors),
    events: formatCount(sum.events),
    threshold: formatRate(alert.threshold),
  }),
)}
${figure('openReviews', ot(lang, 'openReviews'), formatCount(reviews.open), ot(lang, 'openedInRange', { n: formatCount(reviews.openedInRange) }))}
${figure(
  'alertsFired',
  `<a href="${escapeHtml(ctx.href('/console/alerts'))}">${ot(lang, 'alertsFired')}</a>`,
  formatCount(alerts.fired),
  ot(lang, alerts.firing ? 'alertsFiringNow' : 'alertsQuiet'),
)}
</dl>`;
}

const CHARTS: Array<{ id: string; caption: OverviewTextKey }> = [
  { id: 'payments', caption: 'chartPayments' },
  { id: 'rates', caption: 'chartRates' },
  { id: 'amounts', caption: 'chartAmounts' },
  { id: 'latency', caption: 'chartLatency' },
];

function charts(lang: Lang): string {
  const figures = CHARTS.map(
    (chart) => `<figure class="chart">
<figcaption id="chart-${chart.id}-caption">${ot(lang, chart.caption)}</figcaption>
<div class="chart-area" id="chart-${chart.id}" data-chart="${chart.id}" role="img" aria-labelledby="chart-${chart.id}-caption" aria-describedby="chart-note"></div>
</figure>`,
  ).join('\n');
  // Hidden until the script draws in it: without the script the tables carry the figures alone.
  return `<section aria-labelledby="charts-heading" class="charts" id="overview-charts" data-testid="overview-charts" hidden>
<h2 id="charts-heading">${ot(lang, 'charts')}</h2>
<p class="help" id="chart-note">${ot(lang, 'chartNote')}</p>
<div class="chart-grid">${figures}</div>
</section>`;
}

export function latencyRows(overview: Overview): string {
  return overview.latency
    .map(
      (row) =>
        `<tr><th scope="row">${escapeHtml(row.provider)}</th><td>${escapeHtml(row.operation)}</td><td class="num">${formatCount(row.calls)}</td><td class="num">${formatCount(row.errors)}</td><td class="num">${formatMs(row.p50Ms)}</td><td class="num">${formatMs(row.p95Ms)}</td><td class="num">${formatMs(row.p99Ms)}</td></tr>`,
    )
    .join('\n');
}

function latencyTable(lang: Lang, overview: Overview): string {
  return `<section aria-labelledby="latency-heading">
<h2 id="latency-heading">${ot(lang, 'latency')}</h2>
<p class="help" id="latency-empty"${overview.latency.length > 0 ? ' hidden' : ''}>${ot(lang, 'noCalls')}</p>
<div class="table-wrap"><table id="overview-latency" data-testid="overview-latency">
<caption class="visually-hidden">${ot(lang, 'latency')}</caption>
<thead><tr><th scope="col">${ot(lang, 'provider')}</th><th scope="col">${ot(lang, 'operation')}</th><th scope="col">${ot(lang, 'calls')}</th><th scope="col">${ot(lang, 'callErrors')}</th><th scope="col">p50</th><th scope="col">p95</th><th scope="col">p99</th></tr></thead>
<tbody>${latencyRows(overview)}</tbody></table></div>
</section>`;
}

export function bucketRows(overview: Overview): string {
  return overview.buckets
    .map(
      (row) =>
        `<tr><th scope="row"><time datetime="${row.at}">${formatChinaTime(row.at)}</time></th><td class="num">${formatCount(row.created)}</td><td class="num">${formatCount(row.paid)}</td><td class="num">${formatRate(row.successRate)}</td><td class="num">${formatYuan(row.paidFen)}</td><td class="num">${formatCount(row.refunds)}</td><td class="num">${formatYuan(row.refundFen)}</td><td class="num">${formatRate(row.errorRate)}</td><td class="num">${formatCount(row.events)}</td></tr>`,
    )
    .join('\n');
}

function bucketTable(lang: Lang, overview: Overview): string {
  return `<section aria-labelledby="buckets-heading">
<h2 id="buckets-heading">${ot(lang, 'byTime')}</h2>
<p class="help" id="buckets-note">${ot(lang, 'bucketNote', { width: overviewText(lang, WIDTHS[overview.bucket]) })}</p>
<div class="table-wrap scroll" tabindex="0" role="region" aria-labelledby="buckets-heading"><table id="overview-buckets" data-testid="overview-buckets">
<caption class="visually-hidden">${ot(lang, 'byTime')}</caption>
<thead><tr><th scope="col">${ot(lang, 'bucketAt')}</th><th scope="col">${ot(lang, 'created')}</th><th scope="col">${ot(lang, 'paid')}</th><th scope="col">${ot(lang, 'successRate')}</th><th scope="col">${ot(lang, 'paidAmount')}</th><th scope="col">${ot(lang, 'refunds')}</th><th scope="col">${ot(lang, 'refundAmount')}</th><th scope="col">${ot(lang, 'errorRate')}</th><th scope="col">${ot(lang, 'events')}</th></tr></thead>
<tbody>${bucketRows(overview)}</tbody></table></div>
</section>`;
}

function account(ctx: PageContext, user: ConsoleUser): string {
  const t = (key: Parameters<typeof text>[1]) => escapeHtml(text(ctx.lang, key));
  return `<section aria-labelledby="you-heading">
<h2 id="you-heading">${ot(ctx.lang, 'you')}</h2>
<dl class="facts" data-testid="overview-user">
<dt>${t('signedInAs')}</dt><dd>${escapeHtml(user.name)}</dd>
<dt>${t('role')}</dt><dd data-testid="overview-role">${t(user.role)}</dd>
<dt>${t('merchants')}</dt><dd>${user.merchantIds === null ? t('allMerchants') : escapeHtml(user.merchantIds.join(', '))}</dd>
<dt>${t('twoStep')}</dt><dd>${user.totp ? t('on') : `${t('off')} · <a href="${escapeHtml(ctx.href('/console/totp/enrol'))}">${t('setUp')}</a>`}</dd>
</dl>
</section>`;
}

/** The labels the script's charts and status line use, in the page's language. */
function chartLabels(lang: Lang): Record<string, string> {
  const keys: OverviewTextKey[] = [
    'created',
    'paid',
    'successRate',
    'errorRate',
    'alertThreshold',
    'paidAmount',
    'refundAmount',
    'updated',
    'refreshFailed',
    'openedInRange',
    'alertsFiringNow',
    'alertsQuiet',
    'errorRateOf',
    'bucketNote',
    ...Object.values(WIDTHS),
  ];
  return Object.fromEntries(keys.map((key) => [key, overviewText(lang, key)]));
}

/** JSON inside a script element of type application/json: never closes the element early. */
function jsonBlock(id: string, value: unknown): string {
  const json = JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026');
  return `<script type="application/json" id="${id}">${json}</script>`;
}

export function overviewPage(ctx: PageContext, view: OverviewView, notice?: string): string {
  const { lang } = ctx;
  return layout(
    ctx,
    text(lang, 'overview'),
    `${notice ? `<p class="notice" role="status">${escapeHtml(notice)}</p>` : ''}
${rangeForm(ctx, view)}
<p class="help" id="overview-status" data-testid="overview-status">${ot(lang, 'updatedStatic', { at: formatChinaTime(view.at, true) })}</p>
<p class="visually-hidden" role="status" id="overview-announce"></p>
<div id="overview" data-testid="overview">
${totals(ctx, lang, view.overview)}
${charts(lang)}
${latencyTable(lang, view.overview)}
${bucketTable(lang, view.overview)}
</div>
${account(ctx, view.user)}
${jsonBlock('overview-data', { labels: chartLabels(lang), lang, view: { ...view, user: undefined } })}`,
  );
}
