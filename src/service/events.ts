/**
 * The outbox: every change a merchant must learn of writes its event, and a delivery for each
 * endpoint that wants it, inside the transaction that makes the change. No paid order without its
 * event, no event without its change; the delivery worker sends them after the commit.
 */
import { randomBytes } from 'node:crypto';
import { type Kysely, sql, type Transaction } from 'kysely';
import { PING_EVENT, WEBHOOK_PAYLOAD_VERSION, type WebhookEventType } from '../core/webhooks.ts';
import type { Database } from '../store/schema.ts';
import type { ServiceContext } from './context.ts';
import type { Order, Refund } from './model.ts';
import type { Review } from './reviews.ts';
import { orderView, refundView, reviewView } from './views.ts';

type Db = Kysely<Database> | Transaction<Database>;

export interface WebhookEvent {
  id: string;
  type: WebhookEventType | typeof PING_EVENT;
  version: number;
  /** When the change happened (ISO 8601). */
  timestamp: string;
  merchant_id: string;
  data: Record<string, unknown>;
}

export interface RecordedEvent {
  id: string;
  /** Deliveries written for it: one per endpoint that wants it. */
  deliveries: number;
  /** The order's user_order_success now waits for an endpoint's acknowledgement. */
  awaitsAck: boolean;
}

export function newEventId(): string {
  return `evt_${randomBytes(12).toString('hex')}`;
}

interface EventRecord {
  merchantId: string;
  type: WebhookEventType;
  orderType: string | null;
  outTradeNo: string | null;
  outRefundNo?: string | null;
  reviewId?: number | null;
  data: Record<string, unknown>;
  /** A payment.succeeded without a business handler: its acknowledgement completes the order. */
  confirmsOrderId?: number | null;
}

/**
 * Writes the event and its deliveries in one statement. An endpoint for the order's type takes the
 * event; without one, the merchant's default endpoint does. For a payment with no business handler
 * in this process, a delivery makes user_order_success wait for the endpoint's acknowledgement.
 */
async function recordEvent(context: ServiceContext, db: Db, record: EventRecord): Promise<RecordedEvent> {
  const id = newEventId();
  const now = context.now();
  const payload: WebhookEvent = {
    id,
    type: record.type,
    version: WEBHOOK_PAYLOAD_VERSION,
    timestamp: now.toISOString(),
    merchant_id: record.merchantId,
    data: record.data,
  };
  const confirms = record.confirmsOrderId != null;
  const { rows } = await sql<{ deliveries: number; awaited: number }>`
    with wanted as (
      select e.id, e.order_types from webhook_endpoints e
      where e.merchant_id = ${record.merchantId} and e.enabled
        and (e.events is null or ${record.type} = any(e.events))
    ), targets as (
      select w.id from wanted w
      where case when exists (select 1 from wanted s where ${record.orderType}::text = any(s.order_types))
                 then ${record.orderType}::text = any(w.order_types)
                 else w.order_types is null end
    ), event as (
      -- The order waits for the receiver exactly when a delivery is written: the body says so.
      insert into webhook_events (id, merchant_id, type, order_type, out_trade_no, out_refund_no, review_id, payload, create_date)
      values (${id}, ${record.merchantId}, ${record.type}, ${record.orderType}, ${record.outTradeNo},
              ${record.outRefundNo ?? null}, ${record.reviewId ?? null},
              case when ${confirms} and exists (select 1 from targets)
                   then jsonb_set(${JSON.stringify(payload)}::jsonb, '{data,order,user_order_success}', 'false'::jsonb)
                   else ${JSON.stringify(payload)}::jsonb end,
              ${now})
      returning id
    ), delivered as (
      insert into webhook_deliveries (event_id, endpoint_id, merchant_id, confirms_order, status, next_attempt_at, create_date, update_date)
      select (select id from event), t.id, ${record.merchantId}, ${confirms}, 'PENDING', ${now}, ${now}, ${now}
      from targets t
      returning id
    ), awaited as (
      update payment_orders set user_order_success = false
      where id = ${record.confirmsOrderId ?? null} and exists (select 1 from delivered)
      returning id
    )
    select (select count(*) from delivered)::int as deliveries, (select count(*) from awaited)::int as awaited
  `.execute(db);
  const row = rows[0] ?? { deliveries: 0, awaited: 0 };
  return { id, deliveries: Number(row.deliveries), awaitsAck: Number(row.awaited) > 0 };
}

/** payment.succeeded or payment.closed, with the order as the API shows it. */
export function recordPaymentEvent(
  context: ServiceContext,
  tx: Transaction<Database>,
  type: 'payment.succeeded' | 'payment.closed',
  order: Order,
): Promise<RecordedEvent> {
  const awaitsReceiver = type === 'payment.succeeded' && !context.handlers.get(order.type);
  return recordEvent(context, tx, {
    merchantId: order.merchantId,
    type,
    orderType: order.type,
    outTradeNo: order.outTradeNo,
    data: { order: orderView(order) },
    confirmsOrderId: awaitsReceiver ? order.id : null,
  });
}

const REFUND_EVENTS: Partial<Record<Refund['status'], WebhookEventType>> = {
  SUCCESS: 'refund.succeeded',
  CLOSED: 'refund.closed',
  REFUSED: 'refund.refused',
  ABNORMAL: 'refund.abnormal',
  REVERSED: 'refund.reversed',
};

/** The refund's final (or abnormal) state, with its order. Nothing for a refund still in progress. */
export async function recordRefundEvent(
  context: ServiceContext,
  tx: Transaction<Database>,
  refund: Refund,
  order: Order,
): Promise<RecordedEvent | null> {
  const type = REFUND_EVENTS[refund.status];
  if (!type) return null;
  return recordEvent(context, tx, {
    merchantId: refund.merchantId,
    type,
    orderType: order.type,
    outTradeNo: refund.outTradeNo,
    outRefundNo: refund.outRefundNo,
    data: { refund: refundView(refund), order: orderView(order) },
  });
}

/** A transfer event (transfer.created, transfer.succeeded, ...), with the transfer as the API shows it. */
export function recordTransferEvent(
  context: ServiceContext,
  tx: Transaction<Database>,
  type: WebhookEventType & `transfer.${string}`,
  merchantId: string,
  transfer: Record<string, unknown>,
): Promise<RecordedEvent> {
  return recordEvent(context, tx, {
    merchantId,
    type,
    orderType: null,
    outTradeNo: null,
    data: { transfer },
  });
}

/**
 * A profit-sharing event (profit_sharing.finished, profit_sharing.returned, ...), routed by the
 * order's type, with the split or return as the API shows it: amounts, never a receiver's name.
 */
export function recordProfitSharingEvent(
  context: ServiceContext,
  tx: Transaction<Database>,
  type: WebhookEventType & `profit_sharing.${string}`,
  merchantId: string,
  order: { type: string; outTradeNo: string },
  data: Record<string, unknown>,
): Promise<RecordedEvent> {
  return recordEvent(context, tx, {
    merchantId,
    type,
    orderType: order.type,
    outTradeNo: order.outTradeNo,
    data,
  });
}

/** review.opened or review.resolved; the order type routes it when the case concerns an order. */
export async function recordReviewEvent(
  context: ServiceContext,
  db: Db,
  type: 'review.opened' | 'review.resolved',
  review: Review,
): Promise<RecordedEvent> {
  const order = review.outTradeNo
    ? await db
        .selectFrom('payment_orders')
        .select('type')
        .where('merchant_id', '=', review.merchantId)
        .where('out_trade_no', '=', review.outTradeNo)
        .executeTakeFirst()
    : undefined;
  return recordEvent(context, db, {
    merchantId: review.merchantId,
    type,
    orderType: order?.type ?? null,
    outTradeNo: review.outTradeNo,
    reviewId: review.id,
    data: { review: reviewView(review) },
  });
}

/** A webhook.ping for one endpoint, delivered like any event. Returns the event id. */
export async function recordPing(
  context: ServiceContext,
  merchantId: string,
  endpointId: string,
): Promise<{ eventId: string; deliveryId: number }> {
  const id = newEventId();
  const now = context.now();
  const payload: WebhookEvent = {
    id,
    type: PING_EVENT,
    version: WEBHOOK_PAYLOAD_VERSION,
    timestamp: now.toISOString(),
    merchant_id: merchantId,
    data: { endpoint_id: endpointId, message: 'a test event from VK-Pay; answer 2xx to acknowledge' },
  };
  return context.store.db.transaction().execute(async (tx) => {
    await tx
      .insertInto('webhook_events')
      .values({
        id,
        merchant_id: merchantId,
        type: PING_EVENT,
        order_type: null,
        out_trade_no: null,
        out_refund_no: null,
        review_id: null,
        payload: JSON.stringify(payload),
        create_date: now,
      })
      .execute();
    const delivery = await tx
      .insertInto('webhook_deliveries')
      .values({
        event_id: id,
        endpoint_id: endpointId,
        merchant_id: merchantId,
        status: 'PENDING',
        next_attempt_at: now,
        create_date: now,
        update_date: now,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return { eventId: id, deliveryId: Number(delivery.id) };
  });
}

/** Channel on which a change of one order is announced (await_notify waits on it). */
export function orderChannel(merchantId: string, outTradeNo: string): string {
  return `order:${merchantId}:${outTradeNo}`;
}

/** Announces a committed change of an order to waiting queries on every instance. Never throws. */
export function announceOrderChange(context: ServiceContext, merchantId: string, outTradeNo: string): void {
  context.cache.publish(orderChannel(merchantId, outTradeNo), '1').catch((error) => {
    context.logger.warn({ err: error }, 'could not announce an order change');
  });
}
