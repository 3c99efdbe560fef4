/** Orders, refunds and reviews as the API shows them: the wire names merchants of the original plugin know. */
import type { Order, Refund } from './model.ts';
import type { Review } from './reviews.ts';

export function orderView(order: Order) {
  return {
    out_trade_no: order.outTradeNo,
    transaction_id: order.transactionId,
    provider: order.provider,
    scene: order.scene,
    type: order.type,
    subject: order.subject,
    total_fee: order.totalFen,
    refunded_fee: order.refundedFen,
    status: order.status,
    user_id: order.userId,
    openid: order.openid,
    custom: order.custom,
    user_order_success: order.userOrderSuccess,
    pay_date: order.paidAt,
    close_date: order.closedAt,
    expire_date: order.expireAt,
    create_date: order.createdAt,
    update_date: order.updatedAt,
    // Present for an order created for profit sharing: its funds stay frozen until split or unfrozen.
    ...(order.profitSharing ? { profit_sharing: true } : {}),
    // Present once the buyer switched method in the cashier: where the order was offered before.
    ...(order.attempts.length > 0
      ? {
          attempts: order.attempts.map((attempt) => ({
            provider: attempt.provider,
            scene: attempt.scene,
            closed: attempt.closed,
            switch_date: attempt.at,
          })),
        }
      : {}),
  };
}

export function refundView(refund: Refund) {
  return {
    out_trade_no: refund.outTradeNo,
    out_refund_no: refund.outRefundNo,
    refund_id: refund.refundId,
    refund_fee: refund.refundFen,
    total_fee: refund.totalFen,
    reason: refund.reason,
    status: refund.status,
    success_time: refund.successTime,
    create_date: refund.createdAt,
  };
}

export function reviewView(review: Review) {
  return {
    id: review.id,
    kind: review.kind,
    reference: review.reference,
    out_trade_no: review.outTradeNo,
    provider: review.provider,
    amount: review.amountFen,
    action: review.action,
    details: review.details,
    status: review.status,
    note: review.note,
    create_date: review.createDate,
    resolve_date: review.resolveDate,
  };
}
