/**
 * Order and refund state machines. A status changes only along an edge of these tables; the store
 * applies each edge as a conditional update inside a transaction.
 */
import { PayError } from './errors.ts';

export const ORDER_STATUSES = [
  'NOTPAY', // created, not paid
  'USERPAYING', // the payer is confirming (password, face...)
  'SUCCESS', // paid
  'PARTIAL_REFUNDED', // paid, part of it refunded
  'REFUNDED', // paid, all of it refunded
  'CLOSED', // closed before payment; can no longer be paid
  'FAILED', // the payment failed at the gateway
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/**
 * The gateways' refund states, plus REFUSED: the gateway certainly refused the request (the
 * merchant's balance was short, say), so nothing was refunded and the amount is free again; asking
 * again with the same out_refund_no reserves it anew and asks the gateway again. REVERSED: the
 * gateway refunded, then took the refund back (an App Store REFUND_REVERSED): nothing is refunded.
 */
export const REFUND_STATUSES = [
  'PROCESSING',
  'SUCCESS',
  'CLOSED',
  'ABNORMAL',
  'REFUSED',
  'REVERSED',
] as const;
export type RefundStatus = (typeof REFUND_STATUSES)[number];

const ORDER_EDGES: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  NOTPAY: ['USERPAYING', 'SUCCESS', 'CLOSED', 'FAILED'],
  USERPAYING: ['NOTPAY', 'SUCCESS', 'CLOSED', 'FAILED'],
  // A failed attempt can be paid again with the same out_trade_no, or closed.
  FAILED: ['USERPAYING', 'SUCCESS', 'CLOSED'],
  SUCCESS: ['PARTIAL_REFUNDED', 'REFUNDED'],
  PARTIAL_REFUNDED: ['PARTIAL_REFUNDED', 'REFUNDED'],
  REFUNDED: [],
  CLOSED: [],
};

const REFUND_EDGES: Readonly<Record<RefundStatus, readonly RefundStatus[]>> = {
  PROCESSING: ['SUCCESS', 'CLOSED', 'ABNORMAL', 'REFUSED'],
  // An abnormal refund (closed card, frozen account) is settled by hand, or sent again to a bank
  // card (WeChat's abnormal refund), which makes it PROCESSING once more.
  ABNORMAL: ['SUCCESS', 'CLOSED', 'PROCESSING'],
  // Refused, then asked again; or the gateway's later word that it did refund after all (its
  // word beats ours: the refusal we recorded was an answer we misread, or a race).
  REFUSED: ['PROCESSING', 'SUCCESS'],
  // Only a store that grants refunds itself takes one back (see REVERSAL_EDGES for the order).
  SUCCESS: ['REVERSED'],
  CLOSED: [],
  REVERSED: [],
};

/**
 * A refund taken back by the gateway gives the buyer's money back to the merchant: the order moves
 * back from refunded, in full or in part, to what its remaining refunds make it. Kept apart from
 * ORDER_EDGES, where a refunded order never becomes payable again.
 */
const REVERSAL_EDGES: Readonly<Partial<Record<OrderStatus, readonly OrderStatus[]>>> = {
  REFUNDED: ['SUCCESS', 'PARTIAL_REFUNDED'],
  PARTIAL_REFUNDED: ['SUCCESS', 'PARTIAL_REFUNDED'],
};

/** The order's move when one of its successful refunds is reversed. */
export function canReverseRefund(from: OrderStatus, to: OrderStatus): boolean {
  return REVERSAL_EDGES[from]?.includes(to) ?? false;
}

export function canMoveOrder(from: OrderStatus, to: OrderStatus): boolean {
  return ORDER_EDGES[from].includes(to);
}

export function canMoveRefund(from: RefundStatus, to: RefundStatus): boolean {
  return REFUND_EDGES[from].includes(to);
}

export function assertOrderMove(from: OrderStatus, to: OrderStatus): void {
  if (!canMoveOrder(from, to)) {
    throw new PayError(
      from === 'SUCCESS' || from === 'PARTIAL_REFUNDED' || from === 'REFUNDED' ? 40006 : 40001,
      {
        field: 'status',
        message: `order cannot move from ${from} to ${to}`,
      },
    );
  }
}

export function assertRefundMove(from: RefundStatus, to: RefundStatus): void {
  if (!canMoveRefund(from, to)) {
    throw new PayError(40001, { field: 'status', message: `refund cannot move from ${from} to ${to}` });
  }
}

/** The buyer's money has arrived: true for paid orders, refunded in part or in full. */
export function isPaid(status: OrderStatus): boolean {
  return status === 'SUCCESS' || status === 'PARTIAL_REFUNDED' || status === 'REFUNDED';
}

/** No more payments can arrive through this order. */
export function isFinal(status: OrderStatus): boolean {
  return status === 'REFUNDED' || status === 'CLOSED';
}

/** A refund still holding part of the paid amount: in flight, or stuck and awaiting a hand. */
export function refundHoldsAmount(status: RefundStatus): boolean {
  return status === 'PROCESSING' || status === 'ABNORMAL' || status === 'SUCCESS';
}

/** The order status after a refund of `refundedFen` in total has succeeded on a `totalFen` order. */
export function statusAfterRefunds(totalFen: number, refundedFen: number): OrderStatus {
  if (refundedFen <= 0) return 'SUCCESS';
  return refundedFen >= totalFen ? 'REFUNDED' : 'PARTIAL_REFUNDED';
}

export function isOrderStatus(value: unknown): value is OrderStatus {
  return typeof value === 'string' && (ORDER_STATUSES as readonly string[]).includes(value);
}

export function isRefundStatus(value: unknown): value is RefundStatus {
  return typeof value === 'string' && (REFUND_STATUSES as readonly string[]).includes(value);
}
