/**
 * One review case as its console page shows it: the case, the order it is about (status and
 * amounts), and the webhook events and deliveries it caused, so an operator sees what happened
 * before deciding. Resolving stays in the service.
 */
import type { Kysely } from 'kysely';
import type { OrderStatus } from '../core/states.ts';
import { type Review, toReview } from '../service/reviews.ts';
import type { Database } from '../store/schema.ts';
import { iso } from './scope.ts';

export interface ReviewOrder {
  outTradeNo: string;
  status: OrderStatus;
  provider: string;
  totalFen: number;
  refundedFen: number;
  transactionId: string | null;
  createDate: string;
  payDate: string | null;
}

export interface ReviewDetail {
  review: Review;
  order: ReviewOrder | null;
  /** Deliveries of the events about this case or its order, newest first. */
  deliveries: Array<{ id: number; eventId: string; eventType: string; status: string; attempts: number }>;
}

/** The case by id, whatever its merchant: the caller checks the operator's scope. */
export async function findReview(db: Kysely<Database>, id: number): Promise<Review | undefined> {
  const row = await db.selectFrom('payment_reviews').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toReview(row) : undefined;
}

export async function reviewDetail(db: Kysely<Database>, review: Review): Promise<ReviewDetail> {
  const order = review.outTradeNo
    ? await db
        .selectFrom('payment_orders')
        .select([
          'out_trade_no',
          'status',
          'provider',
          'total_fee',
          'refunded_fee',
          'transaction_id',
          'create_date',
          'paid_at',
        ])
        .where('merchant_id', '=', review.merchantId)
        .where('out_trade_no', '=', review.outTradeNo)
        .executeTakeFirst()
    : undefined;
  let deliveries = db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('webhook_events as e', 'e.id', 'd.event_id')
    .select(['d.id', 'd.event_id', 'e.type', 'd.status', 'd.attempts'])
    .where('d.merchant_id', '=', review.merchantId)
    .orderBy('d.id', 'desc')
    .limit(20);
  const outTradeNo = review.outTradeNo;
  deliveries = deliveries.where((eb) =>
    outTradeNo
      ? eb.or([eb('e.review_id', '=', review.id), eb('e.out_trade_no', '=', outTradeNo)])
      : eb('e.review_id', '=', review.id),
  );
  return {
    review,
    order: order
      ? {
          outTradeNo: order.out_trade_no,
          status: order.status,
          provider: order.provider,
          totalFen: order.total_fee,
          refundedFen: order.refunded_fee,
          transactionId: order.transaction_id,
          createDate: iso(order.create_date)!,
          payDate: iso(order.paid_at),
        }
      : null,
    deliveries: (await deliveries.execute()).map((row) => ({
      id: Number(row.id),
      eventId: row.event_id,
      eventType: row.type,
      status: row.status,
      attempts: row.attempts,
    })),
  };
}
