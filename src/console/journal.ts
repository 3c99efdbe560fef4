/**
 * The journal of one payment or transfer (or a later kind), as its console page shows it: the
 * payment_logs rows, payment_errors rows and verified callbacks recorded for the merchant's thing of
 * that kind and number. Rows written before the journal named their merchant and kind carry none
 * where the number was not one merchant's alone: those are shown only while no other merchant has
 * a thing of that kind, number and gateway, and are left out (`shared`) when one does.
 */
import { type Kysely, sql } from 'kysely';
import type { JournalSubject, SubjectKind } from '../core/journal-subject.ts';
import type { Database } from '../store/schema.ts';

/** Where each kind's things are kept, to tell whether another merchant has one of the same number. */
const SUBJECT_TABLES = {
  payment: { table: 'payment_orders', number: 'out_trade_no' },
  transfer: { table: 'payment_transfers', number: 'out_transfer_no' },
} as const satisfies Record<SubjectKind, { table: keyof Database; number: string }>;

export interface SubjectJournal {
  logs: Array<{
    type: string;
    status: 'SUCCESS' | 'ERROR';
    provider: string | null;
    amount: number | null;
    response_ms: number | null;
    error: unknown;
    create_date: Date;
  }>;
  errors: Array<{
    code: number;
    message: string;
    gateway_code: string | null;
    payload: unknown;
    create_date: Date;
  }>;
  callbacks: Array<{
    provider: string;
    event_id: string;
    result: string;
    payload: unknown;
    create_date: Date;
  }>;
  /** Older rows of this number that name no merchant were left out: another merchant has one too. */
  shared: boolean;
}

/** The journal of `subject`, the thing of its kind kept at `provider`; each list oldest first. */
export async function subjectJournal(
  db: Kysely<Database>,
  subject: JournalSubject,
  provider: string,
): Promise<SubjectJournal> {
  // Its own rows, and the older rows of the number that name no merchant. The three tables name the
  // columns alike; the number leads their index (payment_*_subject).
  const ours = sql<boolean>`out_trade_no = ${subject.number} and subject_kind = ${subject.kind}
    and (merchant_id = ${subject.merchantId}
      or (merchant_id is null and (provider = ${provider} or provider is null)))`;
  const [logs, errors, callbacks] = await Promise.all([
    db
      .selectFrom('payment_logs')
      .select(['merchant_id', 'type', 'status', 'provider', 'amount', 'response_ms', 'error', 'create_date'])
      .where(ours)
      .orderBy('id')
      .execute(),
    db
      .selectFrom('payment_errors')
      .select(['merchant_id', 'code', 'message', 'gateway_code', 'payload', 'create_date'])
      .where(ours)
      .orderBy('id')
      .execute(),
    db
      .selectFrom('payment_notify_events')
      .select(['merchant_id', 'provider', 'event_id', 'result', 'payload', 'create_date'])
      .where(ours)
      .orderBy('id')
      .execute(),
  ]);
  const unnamed = (row: { merchant_id: string | null }) => row.merchant_id === null;
  let shared = false;
  if (logs.some(unnamed) || errors.some(unnamed) || callbacks.some(unnamed)) {
    const { table, number } = SUBJECT_TABLES[subject.kind];
    const other = await db
      .selectFrom(table)
      .select('id')
      .where(number, '=', subject.number)
      .where('provider', '=', provider)
      .where('merchant_id', '<>', subject.merchantId)
      .limit(1)
      .executeTakeFirst();
    shared = other !== undefined;
  }
  const shown = <T extends { merchant_id: string | null }>(rows: T[]) =>
    rows.flatMap(({ merchant_id, ...row }) => (shared && merchant_id === null ? [] : [row]));
  return { logs: shown(logs), errors: shown(errors), callbacks: shown(callbacks), shared };
}
