/**
 * One order's story in time order: its creation, every journal row (gateway calls with their
 * latency, applied results, refund starts), errors with their sanitised payloads, verified
 * callbacks, payment and close, refunds and their settlement, webhook events with every delivery
 * attempt, review cases, and profit-sharing splits and returns (their gateway calls and events are
 * the order's journal rows and webhook events). Payloads are sanitised again on the way out, and
 * sealed custom fields are never shown.
 */
import type { Kysely } from 'kysely';
import { PayError } from '../core/errors.ts';
import type { SplitKind, SplitReturnStatus, SplitStatus } from '../core/profit-sharing-states.ts';
import { sanitize } from '../core/sanitize.ts';
import type { RefundStatus } from '../core/states.ts';
import { GATEWAY_OPERATIONS } from '../service/journal-rollup.ts';
import type { Database } from '../store/schema.ts';
import { subjectJournal } from './journal.ts';
import type { ConsoleOrderRow } from './orders.ts';
import { iso, type MerchantScope } from './scope.ts';

/** Operations that are calls to the gateway; the others are the service's own steps. */
export { GATEWAY_OPERATIONS };

/** The order as its page shows it: the listing's fields and the rest but the gateway payload. */
export interface ConsoleOrderDetail extends ConsoleOrderRow {
  openid: string | null;
  /** Sealed fields show as "[sealed]"; sensitive keys as "[redacted]". */
  custom: Record<string, unknown>;
  mchId: string | null;
  appId: string | null;
  clientIp: string | null;
  userOrderSuccess: boolean;
  expireAt: string | null;
  /** Created for profit sharing (分账). */
  profitSharing: boolean;
}

export type TimelineEntry =
  | { at: string; kind: 'created'; totalFen: number; scene: string }
  | {
      at: string;
      kind: 'journal';
      operation: string;
      gateway: boolean;
      status: 'SUCCESS' | 'ERROR';
      provider: string | null;
      latencyMs: number | null;
      amountFen: number | null;
      error: unknown;
    }
  | { at: string; kind: 'error'; code: number; message: string; gatewayCode: string | null; payload: unknown }
  | { at: string; kind: 'callback'; provider: string; eventId: string; result: string; payload: unknown }
  | { at: string; kind: 'paid'; transactionId: string | null }
  | { at: string; kind: 'closed' }
  | {
      at: string;
      kind: 'refund';
      outRefundNo: string;
      refundFen: number;
      status: RefundStatus;
      reason: string | null;
      refundId: string | null;
    }
  | { at: string; kind: 'refund_settled'; outRefundNo: string; status: RefundStatus }
  | {
      at: string;
      kind: 'webhook_event';
      eventId: string;
      type: string;
      outRefundNo: string | null;
      deliveries: Array<{
        endpointId: string;
        status: string;
        attempts: number;
        lastStatusCode: number | null;
        deliveredAt: string | null;
      }>;
    }
  | {
      at: string;
      kind: 'webhook_attempt';
      eventId: string;
      endpointId: string;
      attempt: number;
      ok: boolean;
      statusCode: number | null;
      latencyMs: number;
      error: string | null;
    }
  | {
      at: string;
      kind: 'review';
      id: number;
      reviewKind: string;
      reference: string;
      status: 'OPEN' | 'RESOLVED';
      amountFen: number | null;
    }
  | { at: string; kind: 'review_resolved'; id: number; reviewKind: string; note: string | null }
  | {
      at: string;
      kind: 'split';
      outSplitNo: string;
      splitKind: SplitKind;
      amountFen: number;
      status: SplitStatus;
    }
  | {
      at: string;
      kind: 'split_return';
      outReturnNo: string;
      amountFen: number;
      status: SplitReturnStatus;
      withRefund: boolean;
    };

export interface OrderTimeline {
  order: ConsoleOrderDetail;
  entries: TimelineEntry[];
  /**
   * The journal, errors and callbacks are read by merchant, kind and number (src/console/journal.ts).
   * Rows recorded before they named their merchant, of a number another merchant's order at the same
   * gateway has too, cannot be told apart: they are left out rather than shown to the wrong operator.
   */
  journalShared: boolean;
}

function safeCustom(custom: Record<string, unknown> | null): Record<string, unknown> {
  const shown: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(custom ?? {})) {
    const sealed = typeof value === 'object' && value !== null && '$sealed' in value;
    shown[key] = sealed ? '[sealed]' : value;
  }
  return sanitize(shown) as Record<string, unknown>;
}

export async function orderTimeline(
  db: Kysely<Database>,
  merchantId: string,
  outTradeNo: string,
  scope?: MerchantScope,
): Promise<OrderTimeline> {
  const notFound = () =>
    new PayError(40005, { field: 'outTradeNo', message: `order ${outTradeNo} not found` });
  if (scope !== undefined && !scope.includes(merchantId)) throw notFound();
  const order = await db
    .selectFrom('payment_orders')
    .selectAll()
    .where('merchant_id', '=', merchantId)
    .where('out_trade_no', '=', outTradeNo)
    .executeTakeFirst();
  if (!order) throw notFound();

  const [journal, refunds, events, reviews, splits, splitReturns] = await Promise.all([
    subjectJournal(db, { merchantId, kind: 'payment', number: outTradeNo }, order.provider),
    db.selectFrom('payment_refunds').selectAll().where('order_id', '=', order.id).orderBy('id').execute(),
    db
      .selectFrom('webhook_events')
      .select(['id', 'type', 'out_refund_no', 'create_date'])
      .where('merchant_id', '=', merchantId)
      .where('out_trade_no', '=', outTradeNo)
      .orderBy('create_date')
      .execute(),
    db
      .selectFrom('payment_reviews')
      .selectAll()
      .where('merchant_id', '=', merchantId)
      .where('out_trade_no', '=', outTradeNo)
      .orderBy('id')
      .execute(),
    db
      .selectFrom('payment_splits')
      .select(['out_split_no', 'kind', 'amount', 'status', 'create_date'])
      .where('order_id', '=', order.id)
      .orderBy('id')
      .execute(),
    db
      .selectFrom('payment_split_returns')
      .select(['out_return_no', 'amount', 'status', 'refund_ref', 'create_date'])
      .where('order_id', '=', order.id)
      .orderBy('id')
      .execute(),
  ]);
  const eventIds = events.map((event) => event.id);
  const [deliveries, attempts] =
    eventIds.length === 0
      ? [[], []]
      : await Promise.all([
          db
            .selectFrom('webhook_deliveries')
            .selectAll()
            .where('event_id', 'in', eventIds)
            .orderBy('id')
            .execute(),
          db
            .selectFrom('webhook_attempts')
            .select([
              'event_id',
              'endpoint_id',
              'attempt',
              'ok',
              'status_code',
              'latency_ms',
              'error',
              'started_at',
            ])
            .where('event_id', 'in', eventIds)
            .orderBy('id')
            .execute(),
        ]);

  const entries: TimelineEntry[] = [
    { at: iso(order.create_date)!, kind: 'created', totalFen: order.total_fee, scene: order.scene },
  ];
  const { logs, errors, callbacks, shared: journalShared } = journal;
  for (const log of logs)
    entries.push({
      at: iso(log.create_date)!,
      kind: 'journal',
      operation: log.type,
      gateway: GATEWAY_OPERATIONS.includes(log.type),
      status: log.status,
      provider: log.provider,
      latencyMs: log.response_ms,
      amountFen: log.amount,
      error: log.error === null ? null : sanitize(log.error),
    });
  for (const error of errors)
    entries.push({
      at: iso(error.create_date)!,
      kind: 'error',
      code: error.code,
      message: error.message,
      gatewayCode: error.gateway_code,
      payload: error.payload === null ? null : sanitize(error.payload),
    });
  for (const callback of callbacks)
    entries.push({
      at: iso(callback.create_date)!,
      kind: 'callback',
      provider: callback.provider,
      eventId: callback.event_id,
      result: callback.result,
      payload: sanitize(callback.payload),
    });
  if (order.paid_at)
    entries.push({ at: iso(order.paid_at)!, kind: 'paid', transactionId: order.transaction_id });
  if (order.closed_at) entries.push({ at: iso(order.closed_at)!, kind: 'closed' });
  for (const refund of refunds) {
    entries.push({
      at: iso(refund.create_date)!,
      kind: 'refund',
      outRefundNo: refund.out_refund_no,
      refundFen: refund.refund_fee,
      status: refund.status,
      reason: refund.reason,
      refundId: refund.refund_id,
    });
    if (refund.status !== 'PROCESSING')
      entries.push({
        at: iso(refund.success_time ?? refund.update_date)!,
        kind: 'refund_settled',
        outRefundNo: refund.out_refund_no,
        status: refund.status,
      });
  }
  for (const event of events)
    entries.push({
      at: iso(event.create_date)!,
      kind: 'webhook_event',
      eventId: event.id,
      type: event.type,
      outRefundNo: event.out_refund_no,
      deliveries: deliveries
        .filter((delivery) => delivery.event_id === event.id)
        .map((delivery) => ({
          endpointId: delivery.endpoint_id,
          status: delivery.status,
          attempts: delivery.attempts,
          lastStatusCode: delivery.last_status_code,
          deliveredAt: iso(delivery.delivered_at),
        })),
    });
  for (const attempt of attempts)
    entries.push({
      at: iso(attempt.started_at)!,
      kind: 'webhook_attempt',
      eventId: attempt.event_id,
      endpointId: attempt.endpoint_id,
      attempt: attempt.attempt,
      ok: attempt.ok,
      statusCode: attempt.status_code,
      latencyMs: attempt.latency_ms,
      error: attempt.error,
    });
  for (const review of reviews) {
    entries.push({
      at: iso(review.create_date)!,
      kind: 'review',
      id: Number(review.id),
      reviewKind: review.kind,
      reference: review.reference,
      status: review.status,
      amountFen: review.amount,
    });
    if (review.resolve_date)
      entries.push({
        at: iso(review.resolve_date)!,
        kind: 'review_resolved',
        id: Number(review.id),
        reviewKind: review.kind,
        note: review.note,
      });
  }
  for (const split of splits)
    entries.push({
      at: iso(split.create_date)!,
      kind: 'split',
      outSplitNo: split.out_split_no,
      splitKind: split.kind,
      amountFen: split.amount,
      status: split.status,
    });
  for (const ret of splitReturns)
    entries.push({
      at: iso(ret.create_date)!,
      kind: 'split_return',
      outReturnNo: ret.out_return_no,
      amountFen: ret.amount,
      status: ret.status,
      withRefund: ret.refund_ref !== null,
    });
  // Stable: entries of the same instant keep the order above. Creation leads whatever the clocks
  // say: a gateway's payment time has whole seconds only, and may read earlier than our creation.
  entries.sort((a, b) =>
    a.kind === 'created' ? -1 : b.kind === 'created' ? 1 : Date.parse(a.at) - Date.parse(b.at),
  );

  return {
    order: {
      merchantId: order.merchant_id,
      outTradeNo: order.out_trade_no,
      transactionId: order.transaction_id,
      provider: order.provider,
      scene: order.scene,
      type: order.type,
      subject: order.subject,
      totalFen: order.total_fee,
      refundedFen: order.refunded_fee,
      status: order.status,
      userId: order.user_id,
      openid: order.openid,
      custom: safeCustom(order.custom),
      mchId: order.mch_id,
      appId: order.app_id,
      clientIp: order.client_ip,
      userOrderSuccess: order.user_order_success,
      paidAt: iso(order.paid_at),
      closedAt: iso(order.closed_at),
      expireAt: iso(order.expire_at),
      profitSharing: order.profit_sharing,
      createdAt: iso(order.create_date)!,
      updatedAt: iso(order.update_date)!,
    },
    entries,
    journalShared,
  };
}
