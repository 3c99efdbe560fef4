/** The payment domain as the service hands it out: orders and refunds in camelCase, amounts in fen. */
import type { Fen } from '../core/money.ts';
import type { OrderStatus, RefundStatus } from '../core/states.ts';
import type { OrderAttempt, OrderRow, RefundRow } from '../store/schema.ts';

export interface Order {
  id: number;
  merchantId: string;
  outTradeNo: string;
  provider: string;
  scene: string;
  type: string;
  subject: string;
  totalFen: Fen;
  refundedFen: Fen;
  status: OrderStatus;
  userId: string | null;
  openid: string | null;
  custom: Record<string, unknown>;
  transactionId: string | null;
  /** The payer paid and the business handler for the order's type finished. */
  userOrderSuccess: boolean;
  paidAt: string | null;
  closedAt: string | null;
  /** Until when the order may be paid; past it, the healing job closes it at the gateway. */
  expireAt: string | null;
  createdAt: string;
  updatedAt: string;
  version: number;
  /** Gateways the buyer was offered this order at before its current one, each closed there. */
  attempts: OrderAttempt[];
  /** The merchant's gateway account that takes the payment, its callbacks and refunds. */
  account: string;
  /** The route that chose the account and its side (`stable`, `canary`); null without a route. */
  route: string | null;
  variant: string | null;
  /** Created for profit sharing: the gateway keeps the funds frozen until split or unfrozen. */
  profitSharing: boolean;
}

export interface Refund {
  id: number;
  orderId: number;
  merchantId: string;
  outTradeNo: string;
  outRefundNo: string;
  refundFen: Fen;
  totalFen: Fen;
  reason: string | null;
  status: RefundStatus;
  refundId: string | null;
  successTime: string | null;
  createdAt: string;
  updatedAt: string;
}

const iso = (value: Date | string | null): string | null =>
  value === null ? null : value instanceof Date ? value.toISOString() : new Date(value).toISOString();

export function toOrder(row: OrderRow): Order {
  return {
    id: row.id,
    merchantId: row.merchant_id,
    outTradeNo: row.out_trade_no,
    provider: row.provider,
    scene: row.scene,
    type: row.type,
    subject: row.subject,
    totalFen: row.total_fee,
    refundedFen: row.refunded_fee,
    status: row.status,
    userId: row.user_id,
    openid: row.openid,
    custom: row.custom ?? {},
    transactionId: row.transaction_id,
    userOrderSuccess: row.user_order_success,
    paidAt: iso(row.paid_at),
    closedAt: iso(row.closed_at),
    expireAt: iso(row.expire_at),
    createdAt: iso(row.create_date)!,
    updatedAt: iso(row.update_date)!,
    version: row.version,
    attempts: row.attempts ?? [],
    account: row.account ?? 'default',
    route: row.route ?? null,
    variant: row.variant ?? null,
    profitSharing: row.profit_sharing ?? false,
  };
}

export function toRefund(row: RefundRow): Refund {
  return {
    id: row.id,
    orderId: row.order_id,
    merchantId: row.merchant_id,
    outTradeNo: row.out_trade_no,
    outRefundNo: row.out_refund_no,
    refundFen: row.refund_fee,
    totalFen: row.total_fee,
    reason: row.reason,
    status: row.status,
    refundId: row.refund_id,
    successTime: iso(row.success_time),
    createdAt: iso(row.create_date)!,
    updatedAt: iso(row.update_date)!,
  };
}
