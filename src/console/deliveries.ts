/**
 * The console's webhook deliveries: every merchant's deliveries in the operator's scope, filtered
 * by merchant, endpoint, event type and status, in keyset pages, each with its attempts and the
 * last answer its endpoint gave. One delivery's event and attempt log come from the service.
 */
import { type Kysely, sql } from 'kysely';
import { PayError } from '../core/errors.ts';
import { isWebhookEventType, PING_EVENT } from '../core/webhooks.ts';
import type { Database, DeliveryStatus } from '../store/schema.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { checkList, checkScope, checkText, checkTime, iso } from './scope.ts';

export const DELIVERY_STATUSES: readonly DeliveryStatus[] = [
  'PENDING',
  'DELIVERING',
  'DELIVERED',
  'FAILED',
  'CANCELLED',
];

export interface DeliverySearch {
  merchantIds?: readonly string[] | undefined;
  merchantId?: string | undefined;
  endpointId?: string | undefined;
  eventType?: string | undefined;
  status?: readonly DeliveryStatus[] | undefined;
  from?: Date | string | undefined;
  to?: Date | string | undefined;
  limit?: number | undefined;
  after?: string | undefined;
}

export interface ConsoleDelivery {
  id: number;
  merchantId: string;
  eventId: string;
  eventType: string;
  outTradeNo: string | null;
  outRefundNo: string | null;
  endpointId: string;
  status: DeliveryStatus;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  /** The first bytes of the endpoint's last answer. */
  lastResponse: string | null;
  nextAttemptAt: string | null;
  deliveredAt: string | null;
  createDate: string;
}

const KEY_TIME = sql<string>`to_char(d.create_date at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

function baseQuery(db: Kysely<Database>) {
  return db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('webhook_events as e', 'e.id', 'd.event_id')
    .select([
      'd.id',
      'd.merchant_id',
      'd.event_id',
      'e.type',
      'e.out_trade_no',
      'e.out_refund_no',
      'd.endpoint_id',
      'd.status',
      'd.attempts',
      'd.last_status_code',
      'd.last_error',
      'd.next_attempt_at',
      'd.delivered_at',
      'd.create_date',
    ])
    .select((eb) =>
      eb
        .selectFrom('webhook_attempts as a')
        .select('a.response_excerpt')
        // By the event first: webhook_attempts is indexed on it.
        .whereRef('a.event_id', '=', 'd.event_id')
        .whereRef('a.delivery_id', '=', 'd.id')
        .orderBy('a.attempt', 'desc')
        .limit(1)
        .as('last_response'),
    )
    .select(KEY_TIME.as('create_key'));
}

type Found = Awaited<ReturnType<ReturnType<typeof baseQuery>['execute']>>[number];

function toDelivery(row: Found): ConsoleDelivery {
  return {
    id: Number(row.id),
    merchantId: row.merchant_id,
    eventId: row.event_id,
    eventType: row.type,
    outTradeNo: row.out_trade_no,
    outRefundNo: row.out_refund_no,
    endpointId: row.endpoint_id,
    status: row.status,
    attempts: row.attempts,
    lastStatusCode: row.last_status_code,
    lastError: row.last_error,
    lastResponse: row.last_response ?? null,
    nextAttemptAt: iso(row.next_attempt_at),
    deliveredAt: iso(row.delivered_at),
    createDate: iso(row.create_date)!,
  };
}

/** Newest first; `next` is the cursor of the following page, or null on the last. */
export async function searchDeliveries(
  db: Kysely<Database>,
  search: DeliverySearch,
): Promise<{ rows: ConsoleDelivery[]; next: string | null }> {
  const scope = checkScope(search.merchantIds);
  const merchantId = checkText(search.merchantId, 'merchant');
  const endpointId = checkText(search.endpointId, 'endpoint');
  const eventType = checkText(search.eventType, 'type');
  if (eventType !== undefined && !isWebhookEventType(eventType) && eventType !== PING_EVENT)
    throw new PayError(40001, { field: 'type', message: `unknown event type ${eventType}` });
  const statuses = checkList(search.status, 'status', DELIVERY_STATUSES);
  const from = checkTime(search.from, 'from');
  const to = checkTime(search.to, 'to');
  const limit = search.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 200)
    throw new PayError(40001, { field: 'limit', message: 'limit must be 1 to 200' });
  const after = search.after ? decodeCursor(search.after) : null;
  if (scope !== undefined && (scope.length === 0 || (merchantId && !scope.includes(merchantId))))
    return { rows: [], next: null };
  let query = baseQuery(db)
    .orderBy('d.create_date', 'desc')
    .orderBy('d.id', 'desc')
    .limit(limit + 1);
  if (scope !== undefined) query = query.where('d.merchant_id', 'in', [...scope]);
  if (merchantId) query = query.where('d.merchant_id', '=', merchantId);
  if (endpointId) query = query.where('d.endpoint_id', '=', endpointId);
  if (eventType) query = query.where('e.type', '=', eventType);
  if (statuses) query = query.where('d.status', 'in', statuses);
  if (from) query = query.where('d.create_date', '>=', from);
  if (to) query = query.where('d.create_date', '<', to);
  if (after)
    query = query.where(
      sql<boolean>`(d.create_date, d.id) < (${after.createdAt}::timestamptz, ${after.id}::bigint)`,
    );
  const found = await query.execute();
  const page = found.slice(0, limit);
  const tail = page.at(-1);
  return {
    rows: page.map(toDelivery),
    next:
      found.length > limit && tail ? encodeCursor({ createdAt: tail.create_key, id: Number(tail.id) }) : null,
  };
}

/** One delivery by id, whatever its merchant: the caller checks the operator's scope. */
export async function findDelivery(db: Kysely<Database>, id: number): Promise<ConsoleDelivery | undefined> {
  const row = await baseQuery(db).where('d.id', '=', id).executeTakeFirst();
  return row ? toDelivery(row) : undefined;
}
