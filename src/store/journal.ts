/** payment_logs, payment_errors and payment_notify_events: what happened, for people and monitoring. */
import type { Kysely, Transaction } from 'kysely';
import type { SubjectKind } from '../core/journal-subject.ts';
import type { Database } from './schema.ts';

type Db = Kysely<Database> | Transaction<Database>;

/**
 * Every journal row says whose and which thing its number is: the merchant and the kind
 * (src/core/journal-subject.ts). A row that names no number still carries the kind of call it was.
 */
interface Subject {
  subjectKind: SubjectKind;
  /** Null only where no merchant is known yet (a callback refused before its merchant was read). */
  merchantId: string | null;
}

export interface LogEntry extends Subject {
  type: string;
  status: 'SUCCESS' | 'ERROR';
  outTradeNo?: string | null;
  provider?: string | null;
  amount?: number | null;
  userId?: string | null;
  error?: unknown;
  ip?: string | null;
  userAgent?: string | null;
  responseMs?: number | null;
  /** Set for a call of an order a route chose: the statistics compare the route's two sides. */
  route?: string | null;
  variant?: string | null;
}

function logRow(entry: LogEntry) {
  return {
    type: entry.type,
    status: entry.status,
    out_trade_no: entry.outTradeNo ?? null,
    subject_kind: entry.subjectKind,
    merchant_id: entry.merchantId,
    provider: entry.provider ?? null,
    amount: entry.amount ?? null,
    user_id: entry.userId ?? null,
    error: entry.error === undefined || entry.error === null ? null : JSON.stringify(entry.error),
    ip: entry.ip ?? null,
    user_agent: entry.userAgent ?? null,
    response_ms: entry.responseMs ?? null,
    route: entry.route ?? null,
    variant: entry.route ? (entry.variant ?? null) : null,
  };
}

export async function insertLog(db: Db, entry: LogEntry): Promise<void> {
  await db.insertInto('payment_logs').values(logRow(entry)).execute();
}

export interface NotifyEventEntry extends Subject {
  provider: string;
  eventId: string;
  outTradeNo: string | null;
  payload: unknown;
  result: string;
}

function eventRow(event: NotifyEventEntry) {
  return {
    provider: event.provider,
    event_id: event.eventId,
    out_trade_no: event.outTradeNo,
    subject_kind: event.subjectKind,
    merchant_id: event.merchantId,
    payload: JSON.stringify(event.payload),
    result: event.result,
  };
}

/**
 * The log row of an applied callback and its event record, in one statement: one round trip
 * fewer on the hottest path. A repeated event id is left as it was.
 */
export async function insertLogAndEvent(
  db: Db,
  entry: LogEntry,
  event: NotifyEventEntry | null,
): Promise<void> {
  if (event === null) return insertLog(db, entry);
  await db
    .with('event', (qb) =>
      qb
        .insertInto('payment_notify_events')
        .values(eventRow(event))
        .onConflict((conflict) => conflict.columns(['provider', 'event_id']).doNothing())
        .returning('id'),
    )
    .insertInto('payment_logs')
    .values(logRow(entry))
    .execute();
}

export interface ErrorEntry extends Subject {
  code: number;
  message: string;
  action: string;
  gatewayCode?: string | null;
  outTradeNo?: string | null;
  provider?: string | null;
  /** Already sanitised. */
  payload?: unknown;
  stack?: string | null;
}

export async function insertError(db: Db, entry: ErrorEntry): Promise<void> {
  await db
    .insertInto('payment_errors')
    .values({
      code: entry.code,
      message: entry.message,
      action: entry.action,
      gateway_code: entry.gatewayCode ?? null,
      out_trade_no: entry.outTradeNo ?? null,
      subject_kind: entry.subjectKind,
      merchant_id: entry.merchantId,
      provider: entry.provider ?? null,
      payload: entry.payload === undefined ? null : JSON.stringify(entry.payload),
      stack: entry.stack ?? null,
    })
    .execute();
}

/** Records a verified gateway event once. Returns false when the event was already recorded. */
export async function insertNotifyEvent(db: Db, event: NotifyEventEntry): Promise<boolean> {
  const inserted = await db
    .insertInto('payment_notify_events')
    .values(eventRow(event))
    .onConflict((conflict) => conflict.columns(['provider', 'event_id']).doNothing())
    .returning('id')
    .executeTakeFirst();
  return inserted !== undefined;
}

/** Whether a verified gateway event was recorded already (applied, or kept for a person). */
export async function hasNotifyEvent(db: Db, provider: string, eventId: string): Promise<boolean> {
  const row = await db
    .selectFrom('payment_notify_events')
    .select('id')
    .where('provider', '=', provider)
    .where('event_id', '=', eventId)
    .executeTakeFirst();
  return row !== undefined;
}
