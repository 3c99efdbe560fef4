/**
 * What a merchant does with its events: list them, read one with every delivery attempt (status,
 * latency, answer code and the first bytes of the answer), replay one or every failed one of a
 * time range, and send a test ping to an endpoint.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { sql, type Transaction } from 'kysely';
import { PayError } from '../core/errors.ts';
import { isWebhookEventType, PING_EVENT } from '../core/webhooks.ts';
import type { Database, WebhookAttemptRow, WebhookDeliveryRow } from '../store/schema.ts';
import type { ServiceContext } from './context.ts';
import { recordPing, type WebhookEvent } from './events.ts';

const iso = (value: Date | string | null) => (value === null ? null : new Date(value).toISOString());

export interface EventSummary {
  id: string;
  type: string;
  out_trade_no: string | null;
  out_refund_no: string | null;
  create_date: string;
  /** Per endpoint: where its delivery stands. */
  deliveries: Array<{
    endpoint_id: string;
    status: string;
    attempts: number;
    last_status_code: number | null;
  }>;
}

export interface DeliveryView {
  id: number;
  endpoint_id: string;
  status: string;
  attempts: number;
  next_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  delivered_at: string | null;
  attempt_log: AttemptView[];
}

export interface AttemptView {
  attempt: number;
  ok: boolean;
  status_code: number | null;
  latency_ms: number;
  response_excerpt: string | null;
  error: string | null;
  started_at: string;
  instance: string;
}

function attemptView(row: WebhookAttemptRow): AttemptView {
  return {
    attempt: row.attempt,
    ok: row.ok,
    status_code: row.status_code,
    latency_ms: row.latency_ms,
    response_excerpt: row.response_excerpt,
    error: row.error,
    started_at: iso(row.started_at)!,
    instance: row.instance,
  };
}

function deliveryView(row: WebhookDeliveryRow, attempts: WebhookAttemptRow[]): DeliveryView {
  return {
    id: Number(row.id),
    endpoint_id: row.endpoint_id,
    status: row.status,
    attempts: row.attempts,
    next_attempt_at: iso(row.next_attempt_at),
    last_status_code: row.last_status_code,
    last_error: row.last_error,
    delivered_at: iso(row.delivered_at),
    attempt_log: attempts
      .filter((attempt) => Number(attempt.delivery_id) === Number(row.id))
      .map(attemptView),
  };
}

export interface EventFilter {
  type?: string | undefined;
  outTradeNo?: string | undefined;
  /** Only events with a delivery in this status (FAILED: exhausted; PENDING: still retrying). */
  deliveryStatus?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  limit?: number | undefined;
}

const DELIVERY_STATUSES = ['PENDING', 'DELIVERING', 'DELIVERED', 'FAILED', 'CANCELLED'];

export async function listEvents(
  context: ServiceContext,
  merchantId: string,
  filter: EventFilter = {},
): Promise<EventSummary[]> {
  if (filter.type !== undefined && !isWebhookEventType(filter.type) && filter.type !== PING_EVENT)
    throw new PayError(40001, { field: 'type', message: `unknown event type ${filter.type}` });
  if (filter.deliveryStatus !== undefined && !DELIVERY_STATUSES.includes(filter.deliveryStatus))
    throw new PayError(40001, {
      field: 'status',
      message: `status must be one of ${DELIVERY_STATUSES.join(', ')}`,
    });
  const { db } = context.store;
  let query = db
    .selectFrom('webhook_events')
    .select(['id', 'type', 'out_trade_no', 'out_refund_no', 'create_date'])
    .where('merchant_id', '=', merchantId)
    .orderBy('create_date', 'desc')
    .orderBy('id', 'desc')
    .limit(Math.min(Math.max(filter.limit ?? 100, 1), 500));
  if (filter.type) query = query.where('type', '=', filter.type);
  if (filter.outTradeNo) query = query.where('out_trade_no', '=', filter.outTradeNo);
  if (filter.from) query = query.where('create_date', '>=', filter.from);
  if (filter.to) query = query.where('create_date', '<=', filter.to);
  if (filter.deliveryStatus) {
    const status = filter.deliveryStatus as WebhookDeliveryRow['status'];
    query = query.where((eb) =>
      eb.exists(
        eb
          .selectFrom('webhook_deliveries')
          .select('webhook_deliveries.id')
          .whereRef('webhook_deliveries.event_id', '=', 'webhook_events.id')
          .where('webhook_deliveries.status', '=', status),
      ),
    );
  }
  const events = await query.execute();
  if (events.length === 0) return [];
  const deliveries = await db
    .selectFrom('webhook_deliveries')
    .select(['event_id', 'endpoint_id', 'status', 'attempts', 'last_status_code'])
    .where(
      'event_id',
      'in',
      events.map((event) => event.id),
    )
    .orderBy('id')
    .execute();
  return events.map((event) => ({
    id: event.id,
    type: event.type,
    out_trade_no: event.out_trade_no,
    out_refund_no: event.out_refund_no,
    create_date: iso(event.create_date)!,
    deliveries: deliveries
      .filter((delivery) => delivery.event_id === event.id)
      .map(({ endpoint_id, status, attempts, last_status_code }) => ({
        endpoint_id,
        status,
        attempts,
        last_status_code,
      })),
  }));
}

/** One event: its body as the receivers get it, and every delivery with its attempts. */
export async function getEvent(
  context: ServiceContext,
  merchantId: string,
  eventId: string,
): Promise<{ event: WebhookEvent; deliveries: DeliveryView[] }> {
  const { db } = context.store;
  const event = await db
    .selectFrom('webhook_events')
    .select('payload')
    .where('merchant_id', '=', merchantId)
    .where('id', '=', eventId)
    .executeTakeFirst();
  if (!event) throw new PayError(40005, { field: 'id', message: `event ${eventId} not found` });
  const deliveries = await db
    .selectFrom('webhook_deliveries')
    .selectAll()
    .where('event_id', '=', eventId)
    .orderBy('id')
    .execute();
  const attempts = await db
    .selectFrom('webhook_attempts')
    .selectAll()
    .where('event_id', '=', eventId)
    .orderBy('delivery_id')
    .orderBy('attempt')
    .execute();
  return {
    event: event.payload as WebhookEvent,
    deliveries: deliveries.map((delivery) => deliveryView(delivery, attempts)),
  };
}

/** A delivery's state as a replay changes it: what the console's audit row keeps before and after. */
export type DeliveryState = Pick<WebhookDeliveryRow, 'endpoint_id' | 'status' | 'attempts'> & { id: number };

/**
 * Sends an event again: every delivery of it (or the one to `endpointId`) is due now with a fresh
 * retry schedule; an enabled endpoint that never had it (added later) gets a delivery. The
 * receiver sees the same webhook-id, so one that deduplicates by it does the work once.
 * `alongside` runs in the transaction of the change with the deliveries before and after it (the
 * console's audit row).
 */
export async function replayEvent(
  context: ServiceContext,
  merchantId: string,
  eventId: string,
  endpointId?: string,
  alongside?: (tx: Transaction<Database>, before: DeliveryState[], after: DeliveryState[]) => Promise<void>,
): Promise<DeliveryView[]> {
  const now = context.now();
  const states = async (tx: Transaction<Database>): Promise<DeliveryState[]> =>
    (
      await tx
        .selectFrom('webhook_deliveries')
        .select(['id', 'endpoint_id', 'status', 'attempts'])
        .where('event_id', '=', eventId)
        .orderBy('id')
        .execute()
    ).map((row) => ({ ...row, id: Number(row.id) }));
  await context.store.db.transaction().execute(async (tx) => {
    const before = alongside ? await states(tx) : [];
    const done = async () => {
      if (alongside) await alongside(tx, before, await states(tx));
    };
    const event = await tx
      .selectFrom('webhook_events')
      .select('id')
      .where('merchant_id', '=', merchantId)
      .where('id', '=', eventId)
      .executeTakeFirst();
    if (!event) throw new PayError(40005, { field: 'id', message: `event ${eventId} not found` });
    if (endpointId !== undefined) {
      const endpoint = await tx
        .selectFrom('webhook_endpoints')
        .select(['id', 'enabled'])
        .where('merchant_id', '=', merchantId)
        .where('id', '=', endpointId)
        .executeTakeFirst();
      if (!endpoint)
        throw new PayError(40005, {
          field: 'endpoint_id',
          message: `webhook endpoint ${endpointId} not found`,
        });
      if (!endpoint.enabled)
        throw new PayError(40001, {
          field: 'endpoint_id',
          message: `webhook endpoint ${endpointId} is disabled; enable it first`,
        });
      const existing = await tx
        .selectFrom('webhook_deliveries')
        .select('id')
        .where('event_id', '=', eventId)
        .where('endpoint_id', '=', endpointId)
        .executeTakeFirst();
      if (!existing) {
        await tx
          .insertInto('webhook_deliveries')
          .values({
            event_id: eventId,
            endpoint_id: endpointId,
            merchant_id: merchantId,
            status: 'PENDING',
            next_attempt_at: now,
            create_date: now,
            update_date: now,
          })
          .execute();
        await done();
        return;
      }
    }
    let rearm = tx
      .updateTable('webhook_deliveries')
      .set({ status: 'PENDING', step: 0, next_attempt_at: now, update_date: now })
      .where('event_id', '=', eventId)
      // A delivery in flight finishes on its own; replaying it would send one attempt twice.
      .where('status', '!=', 'DELIVERING')
      .where('endpoint_id', 'in', (eb) =>
        eb
          .selectFrom('webhook_endpoints')
          .select('webhook_endpoints.id')
          .where('webhook_endpoints.merchant_id', '=', merchantId)
          .where('webhook_endpoints.enabled', '=', true),
      );
    if (endpointId !== undefined) rearm = rearm.where('endpoint_id', '=', endpointId);
    await rearm.execute();
    await done();
  });
  context.webhooks.wake();
  return (await getEvent(context, merchantId, eventId)).deliveries;
}

/** Sends again every delivery that exhausted its retries (FAILED) for events made between from and to. */
export async function replayFailed(
  context: ServiceContext,
  merchantId: string,
  range: { from: Date; to: Date; endpointId?: string | undefined },
): Promise<{ replayed: number }> {
  if (!(range.from.getTime() <= range.to.getTime()))
    throw new PayError(40001, { field: 'from', message: 'from must be a time before to' });
  const now = context.now();
  let query = context.store.db
    .updateTable('webhook_deliveries')
    .set({ status: 'PENDING', step: 0, next_attempt_at: now, update_date: now })
    .where('merchant_id', '=', merchantId)
    .where('status', '=', 'FAILED')
    .where('event_id', 'in', (eb) =>
      eb
        .selectFrom('webhook_events')
        .select('webhook_events.id')
        .where('webhook_events.merchant_id', '=', merchantId)
        .where('webhook_events.create_date', '>=', range.from)
        .where('webhook_events.create_date', '<=', range.to),
    )
    .where('endpoint_id', 'in', (eb) =>
      eb
        .selectFrom('webhook_endpoints')
        .select('webhook_endpoints.id')
        .where('webhook_endpoints.merchant_id', '=', merchantId)
        .where('webhook_endpoints.enabled', '=', true),
    );
  if (range.endpointId) query = query.where('endpoint_id', '=', range.endpointId);
  const result = await query.executeTakeFirst();
  const replayed = Number(result.numUpdatedRows);
  if (replayed > 0) context.webhooks.wake();
  return { replayed };
}

/**
 * Sends a webhook.ping to one endpoint and waits (up to its timeout and a little more) for the
 * first attempt's result. Without a delivery worker in this process, the ping waits for one.
 */
export async function pingEndpoint(
  context: ServiceContext,
  merchantId: string,
  endpointId: string,
): Promise<{ event_id: string; delivery: DeliveryView }> {
  const endpoint = await context.store.db
    .selectFrom('webhook_endpoints')
    .select(['id', 'enabled', 'timeout_ms'])
    .where('merchant_id', '=', merchantId)
    .where('id', '=', endpointId)
    .executeTakeFirst();
  if (!endpoint)
    throw new PayError(40005, { field: 'id', message: `webhook endpoint ${endpointId} not found` });
  if (!endpoint.enabled)
    throw new PayError(40001, { field: 'id', message: `webhook endpoint ${endpointId} is disabled` });
  const { eventId, deliveryId } = await recordPing(context, merchantId, endpointId);
  context.webhooks.wake();
  const deadline = Date.now() + endpoint.timeout_ms + 2_000;
  let wait = 10;
  for (;;) {
    const { deliveries } = await getEvent(context, merchantId, eventId);
    const delivery = deliveries.find((item) => item.id === deliveryId)!;
    if (delivery.attempt_log.length > 0 || Date.now() >= deadline) return { event_id: eventId, delivery };
    await sleep(wait);
    wait = Math.min(wait * 2, 200);
  }
}

/**
 * Deletes events older than the retention with nothing left to send, with their deliveries and
 * attempts, a bounded batch at a time. Returns how many events went.
 */
export async function pruneWebhookHistory(
  context: ServiceContext,
  options: { batchSize?: number; maxBatches?: number } = {},
): Promise<number> {
  const batchSize = options.batchSize ?? 1000;
  const cutoff = new Date(context.now().getTime() - context.webhooks.settings.retentionDays * 86_400_000);
  let pruned = 0;
  for (let batch = 0; batch < (options.maxBatches ?? 10); batch += 1) {
    // Referencing rows go in the same statement: the foreign keys are checked at its end.
    const { rows } = await sql<{ id: string }>`
      with old as (
        select e.id from webhook_events e
        where e.create_date < ${cutoff}
          and not exists (select 1 from webhook_deliveries d
                          where d.event_id = e.id and d.status in ('PENDING', 'DELIVERING'))
        order by e.create_date
        limit ${batchSize}
      ), attempts as (
        delete from webhook_attempts where event_id in (select id from old)
      ), deliveries as (
        delete from webhook_deliveries where event_id in (select id from old)
      )
      delete from webhook_events where id in (select id from old) returning id
    `.execute(context.store.db);
    pruned += rows.length;
    if (rows.length < batchSize) break;
  }
  return pruned;
}
