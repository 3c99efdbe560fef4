/**
 * The alert history: every alert the monitoring sent (an incident's first alert, its reminders, its
 * all-clear), one row each, written by the instance that decided to send it.
 */
import { PayError } from '../core/errors.ts';
import type { AlertKind, MonitoringAlertRow } from '../store/schema.ts';
import type { ServiceContext } from './context.ts';

export const ALERT_KINDS: readonly AlertKind[] = ['firing', 'repeated', 'resolved'];

export interface AlertRecord {
  id: number;
  alert: string;
  kind: AlertKind;
  /** When the incident's first alert fired. */
  incident: string;
  rate: number | null;
  errors: number;
  events: number;
  threshold: number;
  windowMinutes: number;
  byCode: Array<{ code: number; count: number }>;
  at: string;
}

export function toAlertRecord(row: MonitoringAlertRow): AlertRecord {
  return {
    id: Number(row.id),
    alert: row.alert,
    kind: row.kind,
    incident: new Date(row.incident).toISOString(),
    rate: row.rate === null ? null : Number(row.rate),
    errors: row.errors,
    events: row.events,
    threshold: Number(row.threshold),
    windowMinutes: Number(row.window_minutes),
    byCode: row.by_code ?? [],
    at: new Date(row.at).toISOString(),
  };
}

export interface NewAlert {
  alert: string;
  kind: AlertKind;
  incident: Date;
  rate: number | null;
  errors: number;
  events: number;
  threshold: number;
  windowMinutes: number;
  byCode: Array<{ code: number; count: number }>;
  at: Date;
}

/** Writes one sent alert; the same alert recorded twice (a retried write) stays one row. */
export async function recordAlert(context: ServiceContext, alert: NewAlert): Promise<void> {
  await context.store.db
    .insertInto('monitoring_alerts')
    .values({
      alert: alert.alert,
      kind: alert.kind,
      incident: alert.incident,
      rate: alert.rate,
      errors: alert.errors,
      events: alert.events,
      threshold: alert.threshold,
      window_minutes: alert.windowMinutes,
      by_code: JSON.stringify(alert.byCode),
      at: alert.at,
    })
    .onConflict((conflict) => conflict.columns(['alert', 'incident', 'kind', 'at']).doNothing())
    .execute();
}

/** The newest alert of this name, or undefined before the first. */
export async function lastAlert(context: ServiceContext, alert: string): Promise<AlertRecord | undefined> {
  const row = await context.store.db
    .selectFrom('monitoring_alerts')
    .selectAll()
    .where('alert', '=', alert)
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row ? toAlertRecord(row) : undefined;
}

export interface AlertFilter {
  kind?: AlertKind | undefined;
  /** Bounds on `at`. */
  from?: Date | undefined;
  to?: Date | undefined;
  /** Only rows older than this id: the page after one ending at it. */
  before?: number | undefined;
  limit?: number | undefined;
}

/** Newest first, a page at a time (keyset on the id). */
export async function listAlerts(
  context: ServiceContext,
  filter: AlertFilter = {},
): Promise<{ rows: AlertRecord[]; next: number | null }> {
  if (filter.kind !== undefined && !ALERT_KINDS.includes(filter.kind))
    throw new PayError(40001, { field: 'kind', message: `kind must be one of ${ALERT_KINDS.join(', ')}` });
  const limit = Math.min(Math.max(filter.limit ?? 50, 1), 200);
  let query = context.store.db.selectFrom('monitoring_alerts').selectAll();
  if (filter.kind) query = query.where('kind', '=', filter.kind);
  if (filter.from) query = query.where('at', '>=', filter.from);
  if (filter.to) query = query.where('at', '<', filter.to);
  if (filter.before !== undefined) query = query.where('id', '<', filter.before);
  const rows = await query
    .orderBy('id', 'desc')
    .limit(limit + 1)
    .execute();
  const page = rows.slice(0, limit).map(toAlertRecord);
  return { rows: page, next: rows.length > limit ? page[page.length - 1]!.id : null };
}
