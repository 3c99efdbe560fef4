/// <reference lib="dom" />
/**
 * The overview page's charts (uPlot, bundled here) and live figures: the page comes with its
 * figures in tables and a JSON block; this draws the charts from the block, asks the page's JSON
 * answer again every 10 seconds and at once when the range or merchant changes (no reload), and
 * puts the new figures in the charts, the totals and the tables.
 */
import uPlot from 'uplot';

interface Bucket {
  at: string;
  created: number;
  paid: number;
  successRate: number | null;
  paidFen: number;
  refunds: number;
  refundFen: number;
  events: number;
  errors: number;
  errorRate: number | null;
}

interface Latency {
  provider: string;
  operation: string;
  calls: number;
  errors: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
}

interface View {
  range: string;
  merchant: string;
  at: string;
  overview: {
    bucket: string;
    buckets: Bucket[];
    totals: Omit<Bucket, 'at'>;
    latency: Latency[];
    latencySeries: Array<Latency & { at: string }>;
    reviews: { open: number; openedInRange: number };
    alerts: { fired: number; firing: boolean };
    alert: { threshold: number };
  };
}

type Labels = Record<string, string>;

const REFRESH_MS = 10_000;
const COLOURS = ['#0b57d0', '#1a7f37', '#b3261e', '#8a5a00', '#6f42c1', '#0b7285', '#c2185b', '#4d5b00'];

// The same formatting as the server's page (src/http/console/overview-page.ts).
const grouped = (value: number) => String(value).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
const formatYuan = (fen: number) =>
  `¥${grouped(Math.trunc(fen / 100))}.${String(fen % 100).padStart(2, '0')}`;
const formatRate = (rate: number | null) => (rate === null ? '—' : `${(rate * 100).toFixed(1)}%`);
const formatMs = (ms: number | null) => (ms === null ? '—' : `${grouped(ms)} ms`);
const formatChinaTime = (iso: string, withSeconds = false) =>
  new Date(Date.parse(iso) + 8 * 3600_000)
    .toISOString()
    .slice(0, withSeconds ? 19 : 16)
    .replace('T', ' ');
const fill = (phrase: string | undefined, values: Record<string, string>) =>
  Object.entries(values).reduce((text, [name, value]) => text.replace(`{${name}}`, value), phrase ?? '');

interface ChartSpec {
  /** Names of the series after x; a change of names makes the chart anew. */
  names(view: View): string[];
  data(view: View, seconds: number[]): Array<Array<number | null>>;
  dashed?: number[];
}

function specs(labels: Labels): Record<string, ChartSpec> {
  const percent = (rate: number | null) => (rate === null ? null : rate * 100);
  const latencyKeys = (view: View) => view.overview.latency.map((row) => `${row.provider} ${row.operation}`);
  return {
    payments: {
      names: () => [labels.created ?? '', labels.paid ?? ''],
      data: (view) => [view.overview.buckets.map((b) => b.created), view.overview.buckets.map((b) => b.paid)],
    },
    rates: {
      names: () => [labels.successRate ?? '', labels.errorRate ?? '', labels.alertThreshold ?? ''],
      data: (view) => [
        view.overview.buckets.map((b) => percent(b.successRate)),
        view.overview.buckets.map((b) => percent(b.errorRate)),
        view.overview.buckets.map(() => view.overview.alert.threshold * 100),
      ],
      dashed: [2],
    },
    amounts: {
      names: () => [labels.paidAmount ?? '', labels.refundAmount ?? ''],
      data: (view) => [
        view.overview.buckets.map((b) => b.paidFen / 100),
        view.overview.buckets.map((b) => b.refundFen / 100),
      ],
    },
    latency: {
      names: latencyKeys,
      data: (view, seconds) => {
        const index = new Map(seconds.map((at, i) => [at, i]));
        return latencyKeys(view).map((key) => {
          const line: Array<number | null> = seconds.map(() => null);
          for (const point of view.overview.latencySeries) {
            if (`${point.provider} ${point.operation}` !== key) continue;
            const i = index.get(Date.parse(point.at) / 1000);
            if (i !== undefined) line[i] = point.p95Ms;
          }
          return line;
        });
      },
    },
  };
}

interface Drawn {
  plot: uPlot;
  names: string;
}

function draw(element: HTMLElement, spec: ChartSpec, view: View, previous: Drawn | undefined): Drawn {
  const seconds = view.overview.buckets.map((b) => Date.parse(b.at) / 1000);
  const names = spec.names(view);
  const data = [seconds, ...spec.data(view, seconds)] as uPlot.AlignedData;
  if (previous && previous.names === names.join('\u0000')) {
    previous.plot.setData(data);
    return previous;
  }
  previous?.plot.destroy();
  const width = Math.max(element.clientWidth, 240);
  const plot = new uPlot(
    {
      width,
      height: 220,
      // Buckets start at China midnight: the axis reads China time, as the tables do.
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Asia/Shanghai'),
      series: [
        {},
        ...names.map((label, i) => ({
          label,
          stroke: COLOURS[i % COLOURS.length],
          width: 2,
          spanGaps: false,
          ...(spec.dashed?.includes(i) ? { dash: [6, 4] } : {}),
        })),
      ],
      axes: [{}, { size: 60 }],
      cursor: { drag: { x: false, y: false } },
    },
    data,
    element,
  );
  return { plot, names: names.join('\u0000') };
}

function cell(row: HTMLTableRowElement, value: string, header = false): void {
  const element = document.createElement(header ? 'th' : 'td');
  if (header) element.scope = 'row';
  else element.className = 'num';
  element.textContent = value;
  row.append(element);
}

function renderTables(view: View): void {
  const buckets = document.querySelector('#overview-buckets tbody');
  if (buckets) {
    buckets.replaceChildren(
      ...view.overview.buckets.map((b) => {
        const row = document.createElement('tr');
        const head = document.createElement('th');
        head.scope = 'row';
        const time = document.createElement('time');
        time.dateTime = b.at;
        time.textContent = formatChinaTime(b.at);
        head.append(time);
        row.append(head);
        for (const value of [
          grouped(b.created),
          grouped(b.paid),
          formatRate(b.successRate),
          formatYuan(b.paidFen),
          grouped(b.refunds),
          formatYuan(b.refundFen),
          formatRate(b.errorRate),
          grouped(b.events),
        ])
          cell(row, value);
        return row;
      }),
    );
  }
  const latency = document.querySelector('#overview-latency tbody');
  if (latency) {
    latency.replaceChildren(
      ...view.overview.latency.map((l) => {
        const row = document.createElement('tr');
        cell(row, l.provider, true);
        const operation = document.createElement('td');
        operation.textContent = l.operation;
        row.append(operation);
        for (const value of [
          grouped(l.calls),
          grouped(l.errors),
          formatMs(l.p50Ms),
          formatMs(l.p95Ms),
          formatMs(l.p99Ms),
        ])
          cell(row, value);
        return row;
      }),
    );
  }
  const empty = document.getElementById('latency-empty');
  if (empty) empty.hidden = view.overview.latency.length > 0;
}

function renderTotals(view: View, labels: Labels): void {
  const { totals, alert, reviews, alerts } = view.overview;
  const set = (name: string, value: string) => {
    const element = document.querySelector<HTMLElement>(`[data-figure="${name}"]`);
    if (element) element.textContent = value;
  };
  set('created', grouped(totals.created));
  set('paid', grouped(totals.paid));
  set('successRate', formatRate(totals.successRate));
  set('paidFen', formatYuan(totals.paidFen));
  set('refunds', grouped(totals.refunds));
  set('refunds-note', formatYuan(totals.refundFen));
  const rate = document.querySelector<HTMLElement>('[data-figure="errorRate"]');
  if (rate) {
    const span = document.createElement('span');
    if (totals.errorRate !== null && totals.errorRate > alert.threshold) span.className = 'over';
    span.textContent = formatRate(totals.errorRate);
    rate.replaceChildren(span);
  }
  set(
    'errorRate-note',
    fill(labels.errorRateOf, {
      errors: grouped(totals.errors),
      events: grouped(totals.events),
      threshold: formatRate(alert.threshold),
    }),
  );
  set('openReviews', grouped(reviews.open));
  set('openReviews-note', fill(labels.openedInRange, { n: grouped(reviews.openedInRange) }));
  set('alertsFired', grouped(alerts.fired));
  set('alertsFired-note', (alerts.firing ? labels.alertsFiringNow : labels.alertsQuiet) ?? '');
}

export function startOverview(): void {
  const block = document.getElementById('overview-data');
  const form = document.getElementById('overview-form') as HTMLFormElement | null;
  if (!block || !form) return;
  const { labels, view: first } = JSON.parse(block.textContent ?? '{}') as { labels: Labels; view: View };
  const chartSpecs = specs(labels);
  const drawn = new Map<string, Drawn>();
  const status = document.getElementById('overview-status');
  const announce = document.getElementById('overview-announce');
  let shown = first;
  const chartSection = document.getElementById('overview-charts');
  if (chartSection) chartSection.hidden = false;

  const render = (view: View) => {
    shown = view;
    for (const element of document.querySelectorAll<HTMLElement>('[data-chart]')) {
      const name = element.dataset.chart ?? '';
      const spec = chartSpecs[name];
      if (spec) drawn.set(name, draw(element, spec, view, drawn.get(name)));
    }
    renderTotals(view, labels);
    renderTables(view);
    const note = document.getElementById('buckets-note');
    if (note)
      note.textContent = fill(labels.bucketNote, { width: labels[`width${view.overview.bucket}`] ?? '' });
    if (status) status.textContent = fill(labels.updated, { at: formatChinaTime(view.at, true) });
  };

  const params = () => {
    const query = new URLSearchParams();
    for (const [name, value] of new FormData(form)) if (typeof value === 'string') query.set(name, value);
    return query;
  };

  let timer: number | undefined;
  let loading: AbortController | null = null;
  const load = async (asked: boolean) => {
    loading?.abort();
    const controller = new AbortController();
    loading = controller;
    const query = params();
    try {
      const response = await fetch(`${form.getAttribute('action') ?? '/console'}?${query}`, {
        headers: { accept: 'application/json' },
        credentials: 'same-origin',
        signal: controller.signal,
      });
      // Signed out meanwhile: the next navigation goes to the sign-in page.
      if (response.status === 401 || response.status === 403) {
        window.clearInterval(timer);
        return;
      }
      const answer = (await response.json()) as { code: number; data: View };
      if (answer.code !== 0) throw new Error(`code ${answer.code}`);
      render(answer.data);
      if (asked) {
        history.replaceState(null, '', `?${query}`);
        if (announce) announce.textContent = status?.textContent ?? '';
      }
    } catch {
      // A network failure or an answer in error: said on the page; the next tick tries again.
      if (controller.signal.aborted) return;
      const message = fill(labels.refreshFailed, { at: formatChinaTime(shown.at, true) });
      if (status) status.textContent = message;
      if (asked && announce) announce.textContent = message;
    }
  };

  form.addEventListener('change', () => void load(true));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void load(true);
  });
  timer = window.setInterval(() => {
    if (document.visibilityState === 'visible') void load(false);
  }, REFRESH_MS);
  let resizing: number | undefined;
  window.addEventListener('resize', () => {
    window.clearTimeout(resizing);
    resizing = window.setTimeout(() => {
      for (const [name, chart] of drawn) {
        const element = document.querySelector<HTMLElement>(`[data-chart="${name}"]`);
        if (element) chart.plot.setSize({ width: Math.max(element.clientWidth, 240), height: 220 });
      }
    }, 150);
  });
  render(first);
}
