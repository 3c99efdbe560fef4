/**
 * What the console reads of transfers: a keyset-paged search within the operator's merchants
 * (status, gateway, merchant, creation dates), and one transfer's story: its creation, the decision
 * (who and when, from the audit rows written in the transaction of each change), the journal and
 * errors of its gateway calls, the gateway's notifications, and its webhook events with their
 * deliveries. Never the payee's identity or name: those are sealed and stay so here.
 */
import { type Kysely, sql } from 'kysely';
import { PayError } from '../core/errors.ts';
import { sanitize } from '../core/sanitize.ts';
import type { TransferStatus } from '../core/transfer-states.ts';
import { type Transfer, toTransfer } from '../service/transfers.ts';
import type { Database } from '../store/schema.ts';
import { decodeCursor, encodeCursor, KEY_TIME_SQL, type RowKey } from './cursor.ts';
import { subjectJournal } from './journal.ts';
import { iso, type MerchantScope } from './scope.ts';

export interface TransferSearch {
  /** undefined: every merchant; an empty list: none. */
  scope: MerchantScope;
  status?: TransferStatus | undefined;
  provider?: string | undefined;
  /** Created at or after. */
  from?: Date | undefined;
  /** Created before. */
  to?: Date | undefined;
  limit?: number | undefined;
  after?: string | undefined;
  before?: string | undefined;
}

export interface TransferPage {
  rows: Transfer[];
  next: string | null;
  previous: string | null;
}

export const TRANSFER_PAGE = 50;

export async function searchTransfers(db: Kysely<Database>, search: TransferSearch): Promise<TransferPage> {
  const limit = search.limit ?? TRANSFER_PAGE;
  const after = search.after ? decodeCursor(search.after) : null;
  const before = search.before ? decodeCursor(search.before, 'before') : null;
  if (after && before)
    throw new PayError(40001, { field: 'before', message: 'give after or before, not both' });
  if (search.scope !== undefined && search.scope.length === 0)
    return { rows: [], next: null, previous: null };
  const direction = before ? 'newer' : 'older';
  const order = direction === 'older' ? 'desc' : 'asc';
  const key = before ?? after;
  let query = db
    .selectFrom('payment_transfers')
    .selectAll()
    .select(sql<string>`${sql.raw(KEY_TIME_SQL)}`.as('create_key'))
    .orderBy('create_date', order)
    .orderBy('id', order)
    .limit(limit + 1);
  const { scope } = search;
  if (scope !== undefined)
    query =
      scope.length === 1
        ? query.where('merchant_id', '=', scope[0]!)
        : query.where('merchant_id', 'in', scope);
  if (search.status) query = query.where('status', '=', search.status);
  if (search.provider) query = query.where('provider', '=', search.provider);
  if (search.from) query = query.where('create_date', '>=', search.from);
  if (search.to) query = query.where('create_date', '<', search.to);
  if (key)
    query = query.where(
      direction === 'older'
        ? sql<boolean>`(create_date, id) < (${key.createdAt}::timestamptz, ${key.id}::bigint)`
        : sql<boolean>`(create_date, id) > (${key.createdAt}::timestamptz, ${key.id}::bigint)`,
    );
  const found = await query.execute();
  const more = found.length > limit;
  const page = more ? found.slice(0, limit) : found;
  const keyOf = (row: (typeof found)[number] | undefined): string | null =>
    row ? encodeCursor({ createdAt: row.create_key, id: Number(row.id) } satisfies RowKey) : null;
  if (before) {
    // Newer rows, nearest first, turned back to newest first; the page we came from follows.
    page.reverse();
    return { rows: page.map(toTransfer), next: keyOf(page.at(-1)), previous: more ? keyOf(page[0]) : null };
  }
  return {
    rows: page.map(toTransfer),
    next: more ? keyOf(page.at(-1)) : null,
    previous: after ? keyOf(page[0]) : null,
  };
}

/** Journal rows that are calls to the gateway; the rest are the service's own steps. */
const TRANSFER_GATEWAY_CALLS: readonly string[] = ['transfer', 'transfer_query', 'transfer_cancel'];

export type TransferTimelineEntry =
  | { at: string; kind: 'created'; by: string; amountFen: number }
  | { at: string; kind: 'decided'; approved: boolean; by: string; note: string | null }
  | {
      at: string;
      kind: 'journal';
      operation: string;
      /** A call to the gateway (send, query, cancel), or one of the service's own steps. */
      gateway: boolean;
      status: 'SUCCESS' | 'ERROR';
      latencyMs: number | null;
      error: unknown;
    }
  | { at: string; kind: 'error'; code: number; message: string; gatewayCode: string | null }
  | { at: string; kind: 'callback'; result: string; payload: unknown }
  | { at: string; kind: 'settled'; status: 'SUCCESS' | 'FAILED' | 'CANCELLED'; failReason: string | null }
  | {
      at: string;
      kind: 'webhook_event';
      eventId: string;
      type: string;
      deliveries: Array<{ id: number; endpointId: string; status: string; attempts: number }>;
    };

export interface TransferDetail {
  transfer: Transfer;
  entries: TransferTimelineEntry[];
}

/** The transfer, if it is among `scope`'s merchants; another merchant's answers as not found (40005). */
export async function transferDetail(
  db: Kysely<Database>,
  merchantId: string,
  outTransferNo: string,
  scope: MerchantScope,
): Promise<TransferDetail> {
  const notFound = () =>
    new PayError(40005, { field: 'out_transfer_no', message: `transfer ${outTransferNo} not found` });
  if (scope !== undefined && !scope.includes(merchantId)) throw notFound();
  const row = await db
    .selectFrom('payment_transfers')
    .selectAll()
    .where('merchant_id', '=', merchantId)
    .where('out_transfer_no', '=', outTransferNo)
    .executeTakeFirst();
  if (!row) throw notFound();
  const since = new Date(row.create_date);
  const [audits, journal, events] = await Promise.all([
    db
      .selectFrom('console_audit')
      .select(['action', 'actor_name', 'after', 'at'])
      .where('target', '=', `${merchantId}/${outTransferNo}`)
      .where('action', 'in', ['transfer.created', 'transfer.approved', 'transfer.rejected'])
      .orderBy('id')
      .execute(),
    subjectJournal(db, { merchantId, kind: 'transfer', number: outTransferNo }, row.provider),
    db
      .selectFrom('webhook_events')
      .select(['id', 'type', 'create_date'])
      .where('merchant_id', '=', merchantId)
      .where('type', 'like', 'transfer.%')
      .where('create_date', '>=', since)
      .where(sql<boolean>`payload->'data'->'transfer'->>'out_transfer_no' = ${outTransferNo}`)
      .orderBy('create_date')
      .execute(),
  ]);
  const deliveries =
    events.length === 0
      ? []
      : await db
          .selectFrom('webhook_deliveries')
          .select(['id', 'event_id', 'endpoint_id', 'status', 'attempts'])
          .where(
            'event_id',
            'in',
            events.map((event) => event.id),
          )
          .orderBy('id')
          .execute();

  const { logs, errors, callbacks } = journal;
  const transfer = toTransfer(row);
  const entries: TransferTimelineEntry[] = [];
  const created = audits.find((audit) => audit.action === 'transfer.created');
  entries.push({
    at: iso(row.create_date)!,
    kind: 'created',
    by: created?.actor_name ?? row.requested_by,
    amountFen: row.amount,
  });
  for (const audit of audits) {
    if (audit.action === 'transfer.created') continue;
    const after = (audit.after ?? {}) as { note?: string | null };
    entries.push({
      at: iso(audit.at)!,
      kind: 'decided',
      approved: audit.action === 'transfer.approved',
      by: audit.actor_name ?? '',
      note: after.note ?? null,
    });
  }
  for (const log of logs)
    entries.push({
      at: iso(log.create_date)!,
      kind: 'journal',
      operation: log.type,
      gateway: TRANSFER_GATEWAY_CALLS.includes(log.type),
      status: log.status,
      latencyMs: log.response_ms,
      error: log.error === null ? null : sanitize(log.error),
    });
  for (const error of errors)
    entries.push({
      at: iso(error.create_date)!,
      kind: 'error',
      code: error.code,
      message: error.message,
      gatewayCode: error.gateway_code,
    });
  for (const callback of callbacks)
    entries.push({
      at: iso(callback.create_date)!,
      kind: 'callback',
      result: callback.result,
      payload: sanitize(callback.payload),
    });
  for (const event of events)
    entries.push({
      at: iso(event.create_date)!,
      kind: 'webhook_event',
      eventId: event.id,
      type: event.type,
      deliveries: deliveries
        .filter((delivery) => delivery.event_id === event.id)
        .map((delivery) => ({
          id: Number(delivery.id),
          endpointId: delivery.endpoint_id,
          status: delivery.status,
          attempts: delivery.attempts,
        })),
    });
  // Where it ended: paid (at the gateway's success time), failed with the reason, or withdrawn.
  if (row.status === 'SUCCESS' || row.status === 'FAILED' || row.status === 'CANCELLED')
    entries.push({
      at: iso(row.success_time ?? row.update_date)!,
      kind: 'settled',
      status: row.status,
      failReason: row.fail_reason,
    });
  // Stable: entries of one instant keep the order they were added in (creation, decision, calls).
  entries.sort((a, b) => a.at.localeCompare(b.at));
  return { transfer, entries };
}
