/**
 * Monitoring from the payment journal: the success rate of orders, gateway response times per
 * provider and operation, errors by code, and the error-rate alert (more than 10 % of the last
 * five minutes' payment events failing, by default), sent to a webhook once per incident however
 * many instances watch, and each alert sent recorded in the alert history (alert-history.ts). The
 * same channel carries the automatic rollbacks of routes.
 */
import { createHmac } from 'node:crypto';
import { sql } from 'kysely';
import type { AlertKind } from '../store/schema.ts';
import { lastAlert, recordAlert } from './alert-history.ts';
import type { ServiceContext } from './context.ts';
import { runEvery } from './jobs.ts';

/**
 * Failures that are the caller's or the buyer's, not the system's: bad parameters, unknown orders,
 * orders already paid, a short balance. They are counted in the statistics, never in the alert.
 */
export const CALLER_ERROR_CODES: readonly number[] = [40001, 40005, 40006, 40007];

export interface CallStats {
  provider: string;
  /** The payment_logs type: create, query, close, refund, refund_query, notify, ... */
  type: string;
  calls: number;
  errors: number;
  errorRate: number;
  avgMs: number | null;
  minMs: number | null;
  maxMs: number | null;
  p95Ms: number | null;
}

export interface PaymentStats {
  from: string;
  to: string;
  orders: {
    created: number;
    /** Paid, refunded in part or in full: the buyer's money arrived. */
    paid: number;
    closed: number;
    /** paid / created, or null without orders. */
    successRate: number | null;
    paidFen: number;
  };
  calls: CallStats[];
  errors: Array<{ code: number; count: number }>;
  /** Cases waiting for a person now, whenever they arose. */
  reviews: { open: number };
}

const ratio = (part: number, whole: number) => (whole > 0 ? part / whole : null);
const rounded = (value: unknown) =>
  value === null || value === undefined ? null : Math.round(Number(value));

/** Statistics of the orders created and the payment events logged in [from, to). */
export async function paymentStats(
  context: ServiceContext,
  window: { from: Date; to: Date },
): Promise<PaymentStats> {
  const { db } = context.store;
  const [orders, calls, errors, openReviews] = await Promise.all([
    sql<{ created: number; paid: number; closed: number; paid_fen: number }>`
      select count(*)::int as created,
        (count(*) filter (where status in ('SUCCESS', 'PARTIAL_REFUNDED', 'REFUNDED')))::int as paid,
        (count(*) filter (where status = 'CLOSED'))::int as closed,
        coalesce(sum(total_fee) filter (where status in ('SUCCESS', 'PARTIAL_REFUNDED', 'REFUNDED')), 0)::int as paid_fen
      from payment_orders where create_date >= ${window.from} and create_date < ${window.to}`.execute(db),
    sql<{
      provider: string;
      type: string;
      calls: number;
      errors: number;
      avg_ms: number | null;
      min_ms: number | null;
      max_ms: number | null;
      p95_ms: number | null;
    }>`
      select provider, type, count(*)::int as calls,
        (count(*) filter (where status = 'ERROR'))::int as errors,
        avg(response_ms)::float8 as avg_ms, min(response_ms) as min_ms, max(response_ms) as max_ms,
        (percentile_cont(0.95) within group (order by response_ms))::float8 as p95_ms
      from payment_logs
      where create_date >= ${window.from} and create_date < ${window.to}
        and provider is not null and response_ms is not null
      group by provider, type order by provider, type`.execute(db),
    sql<{ code: number; count: number }>`
      select (error->>'code')::int as code, count(*)::int as count
      from payment_logs
      where create_date >= ${window.from} and create_date < ${window.to}
        and status = 'ERROR' and error->>'code' ~ '^[0-9]+$'
      group by 1 order by 2 desc, 1`.execute(db),
    sql<{ open: number }>`select count(*)::int as open from payment_reviews where status = 'OPEN'`.execute(
      db,
    ),
  ]);
  const o = orders.rows[0] ?? { created: 0, paid: 0, closed: 0, paid_fen: 0 };
  return {
    from: window.from.toISOString(),
    to: window.to.toISOString(),
    orders: {
      created: o.created,
      paid: o.paid,
      closed: o.closed,
      successRate: ratio(o.paid, o.created),
      paidFen: o.paid_fen,
    },
    calls: calls.rows.map((row) => ({
      provider: row.provider,
      type: row.type,
      calls: row.calls,
      errors: row.errors,
      errorRate: row.errors / row.calls,
      avgMs: rounded(row.avg_ms),
      minMs: rounded(row.min_ms),
      maxMs: rounded(row.max_ms),
      p95Ms: rounded(row.p95_ms),
    })),
    errors: errors.rows,
    reviews: { open: openReviews.rows[0]?.open ?? 0 },
  };
}

export interface ErrorRate {
  /** Payment events logged in the window. */
  events: number;
  /** Of which failed for the system's reasons (not CALLER_ERROR_CODES). */
  errors: number;
  rate: number | null;
  byCode: Array<{ code: number; count: number }>;
}

/** The share of payment events in the `windowMs` before `now` that failed for the system's reasons. */
export async function errorRate(context: ServiceContext, windowMs: number, now: Date): Promise<ErrorRate> {
  const from = new Date(now.getTime() - windowMs);
  // The database stamps rows to the microsecond, `now` is whole milliseconds: its whole millisecond counts.
  const until = new Date(now.getTime() + 1);
  const rows = await sql<{ code: number | null; status: string; count: number }>`
    select case when status = 'ERROR' and coalesce(error->>'code', '') ~ '^[0-9]+$'
                then (error->>'code')::int end as code,
           status, count(*)::int as count
    from payment_logs where create_date >= ${from} and create_date < ${until}
    group by 1, 2`.execute(context.store.db);
  let events = 0;
  let errors = 0;
  const byCode: Array<{ code: number; count: number }> = [];
  for (const row of rows.rows) {
    events += row.count;
    if (row.status !== 'ERROR') continue;
    const code = row.code ?? 50000;
    if (CALLER_ERROR_CODES.includes(code)) continue;
    errors += row.count;
    byCode.push({ code, count: row.count });
  }
  byCode.sort((a, b) => b.count - a.count || a.code - b.code);
  return { events, errors, rate: ratio(errors, events), byCode };
}

export type AlertFormat = 'json' | 'wecom' | 'dingtalk';

export interface AlertSettings {
  /** Where alerts go (a WeCom or DingTalk group robot, or any JSON endpoint); null: the log only. */
  webhookUrl: string | null;
  format: AlertFormat;
  /** DingTalk's signing secret ("加签"), when the robot has one. */
  secret: string | null;
  /** Alert above this share of failing events (0.1 = 10 %). */
  threshold: number;
  windowMs: number;
  /** Fewer events than this in the window never alert: two failures of three calls are not an outage. */
  minEvents: number;
  intervalMs: number;
  /** While an incident lasts, the alert is sent again this often. */
  repeatMs: number;
}

export const DEFAULT_ALERTS: AlertSettings = {
  webhookUrl: null,
  format: 'json',
  secret: null,
  threshold: 0.1,
  windowMs: 5 * 60_000,
  minEvents: 20,
  intervalMs: 60_000,
  repeatMs: 60 * 60_000,
};

export interface AlertCheck extends ErrorRate {
  firing: boolean;
  /** What this check sent: a new (or repeated) alert, the all-clear, or nothing. */
  sent: 'firing' | 'resolved' | null;
  /** What it recorded in the alert history: a repeat of an incident is told from its first alert. */
  recorded: AlertKind | null;
}

/** What goes to the alert channel: the error-rate alert, or a route rolled back automatically. */
export type AlertMessage = ErrorRateAlertMessage | RouteRollbackAlertMessage;

export interface ErrorRateAlertMessage {
  alert: 'vkpay_error_rate';
  status: 'firing' | 'resolved';
  rate: number | null;
  errors: number;
  events: number;
  threshold: number;
  windowMinutes: number;
  byCode: Array<{ code: number; count: number }>;
  at: string;
}

/** One side of a route over the window an automatic rollback looked at. */
export interface VariantErrorRate {
  account: string;
  /** Payments created at the gateway (create calls), and those that failed for the system's reasons. */
  payments: number;
  errors: number;
  rate: number | null;
}

/** A route the service rolled back by itself: its canary side failed more than the stable side. */
export interface RouteRollbackAlertMessage {
  alert: 'vkpay_route_rollback';
  status: 'firing';
  merchantId: string;
  route: string;
  canary: VariantErrorRate;
  stable: VariantErrorRate;
  /** The configured margin the canary's rate exceeded the stable's by (0.05 = 5 points). */
  margin: number;
  windowMinutes: number;
  /** What the rollback did to the canary side's unpaid orders. */
  closed: number;
  paid: number;
  reviewed: number;
  at: string;
}

const INCIDENT_KEY = 'alert:error-rate';

/** The incident on the shared cache: when its last alert went out, and when its first did. */
interface Incident {
  since: string;
  started?: string;
}

/**
 * Checks the error rate once and sends what the change calls for. Whoever wins the incident's lock
 * on the shared cache decides, records the alert in the history and sends it, so an incident is
 * announced and recorded once however many instances check.
 */
export async function checkErrorRate(
  context: ServiceContext,
  settings: AlertSettings,
  send: (message: AlertMessage) => Promise<void>,
  now: Date = context.now(),
): Promise<AlertCheck> {
  const measured = await errorRate(context, settings.windowMs, now);
  const firing =
    measured.events >= settings.minEvents && measured.rate !== null && measured.rate > settings.threshold;
  const message = (status: ErrorRateAlertMessage['status']): ErrorRateAlertMessage => ({
    alert: 'vkpay_error_rate',
    status,
    rate: measured.rate,
    errors: measured.errors,
    events: measured.events,
    threshold: settings.threshold,
    windowMinutes: settings.windowMs / 60_000,
    byCode: measured.byCode,
    at: now.toISOString(),
  });
  const record = async (kind: AlertKind, started: string) => {
    const sent = message(kind === 'resolved' ? 'resolved' : 'firing');
    try {
      await recordAlert(context, {
        ...sent,
        kind,
        incident: new Date(started),
        at: now,
      });
    } catch (error) {
      // The alert matters more than its history: it still goes out.
      context.logger.error({ reason: (error as Error).message, kind }, 'alert history not written');
    }
  };
  let sent: AlertCheck['sent'] = null;
  let recorded: AlertCheck['recorded'] = null;
  if (firing) {
    // The instance that records the incident sends it; the record expires after repeatMs, so a
    // long incident is announced again, as a repeat of the incident the history has open.
    const lock: Incident = { since: now.toISOString() };
    if (await context.cache.setIfAbsent(INCIDENT_KEY, lock, settings.repeatMs)) {
      const open = await openIncident(context);
      const started = open ?? lock.since;
      if (open) await context.cache.set(INCIDENT_KEY, { ...lock, started }, settings.repeatMs);
      sent = 'firing';
      recorded = open ? 'repeated' : 'firing';
      context.logger.error({ alert: message('firing') }, 'payment error rate above the alert threshold');
      await record(recorded, started);
      await send(message('firing'));
    }
  } else {
    const incident = await context.cache.get<Incident>(INCIDENT_KEY);
    // An incident whose lock expired while the rate fell is still open in the history: it is
    // resolved all the same.
    const started = incident ? (incident.started ?? incident.since) : await openIncident(context);
    if (
      started &&
      (await context.cache.setIfAbsent(`${INCIDENT_KEY}:resolved:${started}`, 1, settings.repeatMs))
    ) {
      if (incident) await context.cache.delete(INCIDENT_KEY);
      sent = 'resolved';
      recorded = 'resolved';
      context.logger.warn(
        { alert: message('resolved') },
        'payment error rate back under the alert threshold',
      );
      await record('resolved', started);
      await send(message('resolved'));
    }
  }
  return { ...measured, firing, sent, recorded };
}

/** When the incident the history has open began (its last row is not an all-clear), else null. */
async function openIncident(context: ServiceContext): Promise<string | null> {
  const last = await lastAlert(context, 'vkpay_error_rate');
  return last && last.kind !== 'resolved' ? last.incident : null;
}

const percentOf = (rate: number | null) => (rate === null ? 'n/a' : `${(rate * 100).toFixed(1)}%`);

function describe(message: AlertMessage): string {
  if (message.alert === 'vkpay_route_rollback')
    return `【VK-Pay 灰度自动回滚】商户 ${message.merchantId} 路由 ${message.route}：最近${message.windowMinutes}分钟新账户 ${message.canary.account} 支付错误率 ${percentOf(message.canary.rate)}（${message.canary.errors}/${message.canary.payments}），稳定账户 ${message.stable.account} ${percentOf(message.stable.rate)}（${message.stable.errors}/${message.stable.payments}），超出 ${(message.margin * 100).toFixed(1)} 个百分点，已自动回滚到 ${message.stable.account}。关闭未支付订单 ${message.closed}，已支付 ${message.paid}，转人工 ${message.reviewed}。时间：${message.at}`;
  const percent = message.rate === null ? 'n/a' : `${(message.rate * 100).toFixed(1)}%`;
  const codes = message.byCode.map((entry) => `${entry.code}×${entry.count}`).join(', ') || 'none';
  return message.status === 'firing'
    ? `【VK-Pay 支付异常告警】最近${message.windowMinutes}分钟支付错误率 ${percent}（${message.errors}/${message.events}），超过 ${(message.threshold * 100).toFixed(0)}%。错误码：${codes}。时间：${message.at}`
    : `【VK-Pay 告警恢复】最近${message.windowMinutes}分钟支付错误率 ${percent}（${message.errors}/${message.events}），已低于 ${(message.threshold * 100).toFixed(0)}%。时间：${message.at}`;
}

/** The body a webhook of `format` expects. */
export function alertBody(message: AlertMessage, format: AlertFormat): unknown {
  if (format === 'json') return message;
  // WeCom and DingTalk group robots both take a text message of this shape.
  return { msgtype: 'text', text: { content: describe(message) } };
}

/** DingTalk's signed robot URL: timestamp and HMAC-SHA256 of "timestamp\nsecret" under the secret. */
export function signedDingtalkUrl(url: string, secret: string, nowMs: number): string {
  const sign = createHmac('sha256', secret).update(`${nowMs}\n${secret}`).digest('base64');
  const signed = new URL(url);
  signed.searchParams.set('timestamp', String(nowMs));
  signed.searchParams.set('sign', sign);
  return signed.toString();
}

/** Posts alerts to the configured webhook; failures go to the log (without the URL: it holds a key). */
export function webhookSender(
  context: ServiceContext,
  settings: AlertSettings,
  fetchImpl: typeof fetch = fetch,
): (message: AlertMessage) => Promise<void> {
  return async (message) => {
    if (!settings.webhookUrl) return;
    const url =
      settings.format === 'dingtalk' && settings.secret
        ? signedDingtalkUrl(settings.webhookUrl, settings.secret, Date.now())
        : settings.webhookUrl;
    try {
      const response = await fetchImpl(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alertBody(message, settings.format)),
        signal: AbortSignal.timeout(5_000),
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      await response.arrayBuffer();
    } catch (error) {
      context.logger.error(
        { host: new URL(settings.webhookUrl).host, reason: (error as Error).message },
        'alert webhook failed',
      );
    }
  };
}

/** Checks every intervalMs until stopped. Returns the stop function. */
export function startAlertMonitor(context: ServiceContext, settings: AlertSettings): () => void {
  const send = webhookSender(context, settings);
  return runEvery(context, settings.intervalMs, 'error-rate check', async () => {
    await checkErrorRate(context, settings, send);
  });
}
