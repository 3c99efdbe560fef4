import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  assertOrderMove,
  canMoveOrder,
  canMoveRefund,
  canReverseRefund,
  isFinal,
  isPaid,
  ORDER_STATUSES,
  type OrderStatus,
  REFUND_STATUSES,
  refundHoldsAmount,
  statusAfterRefunds,
} from '../../src/core/states.ts';

describe('order state machine', () => {
  it('allows exactly the documented moves', () => {
    const allowed = ORDER_STATUSES.flatMap((from) =>
      ORDER_STATUSES.filter((to) => canMoveOrder(from, to)).map((to) => `${from}->${to}`),
    );
    expect(allowed.sort()).toEqual(
      [
        'NOTPAY->USERPAYING',
        'NOTPAY->SUCCESS',
        'NOTPAY->CLOSED',
        'NOTPAY->FAILED',
        'USERPAYING->NOTPAY',
        'USERPAYING->SUCCESS',
        'USERPAYING->CLOSED',
        'USERPAYING->FAILED',
        'FAILED->USERPAYING',
        'FAILED->SUCCESS',
        'FAILED->CLOSED',
        'SUCCESS->PARTIAL_REFUNDED',
        'SUCCESS->REFUNDED',
        'PARTIAL_REFUNDED->PARTIAL_REFUNDED',
        'PARTIAL_REFUNDED->REFUNDED',
      ].sort(),
    );
  });

  it('never un-pays an order and never reopens a final one, along any walk', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...ORDER_STATUSES), { maxLength: 40 }), (attempts) => {
        let status: OrderStatus = 'NOTPAY';
        let wasPaid = false;
        for (const next of attempts) {
          const wasFinal = isFinal(status);
          if (canMoveOrder(status, next)) {
            expect(wasFinal).toBe(false);
            status = next;
          } else {
            expect(() => assertOrderMove(status, next)).toThrow();
          }
          if (isPaid(status)) wasPaid = true;
          if (wasPaid) expect(isPaid(status)).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('reports paying a paid order as 40006 and other bad moves as 40001', () => {
    expect(() => assertOrderMove('SUCCESS', 'SUCCESS')).toThrow(expect.objectContaining({ code: 40006 }));
    expect(() => assertOrderMove('CLOSED', 'SUCCESS')).toThrow(expect.objectContaining({ code: 40001 }));
  });

  it('derives the status after refunds from the refunded total', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        (total, refunded) => {
          const status = statusAfterRefunds(total, Math.min(refunded, total));
          if (refunded === 0) expect(status).toBe('SUCCESS');
          else if (refunded >= total) expect(status).toBe('REFUNDED');
          else expect(status).toBe('PARTIAL_REFUNDED');
        },
      ),
    );
  });
});

describe('refund state machine', () => {
  it('allows exactly the documented moves', () => {
    const allowed = REFUND_STATUSES.flatMap((from) =>
      REFUND_STATUSES.filter((to) => canMoveRefund(from, to)).map((to) => `${from}->${to}`),
    );
    expect(allowed.sort()).toEqual(
      [
        'PROCESSING->SUCCESS',
        'PROCESSING->CLOSED',
        'PROCESSING->ABNORMAL',
        'PROCESSING->REFUSED',
        'ABNORMAL->SUCCESS',
        'ABNORMAL->CLOSED',
        'ABNORMAL->PROCESSING',
        'REFUSED->PROCESSING',
        'REFUSED->SUCCESS',
        'SUCCESS->REVERSED',
      ].sort(),
    );
  });

  it('pays a refund out at most once; SUCCESS leaves only to REVERSED, and nothing leaves CLOSED or REVERSED', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...REFUND_STATUSES), { maxLength: 40 }), (attempts) => {
        let status: (typeof REFUND_STATUSES)[number] = 'PROCESSING';
        let paidOut = 0;
        for (const next of attempts) {
          if (!canMoveRefund(status, next)) continue;
          expect(['CLOSED', 'REVERSED']).not.toContain(status);
          if (status === 'SUCCESS') expect(next).toBe('REVERSED');
          status = next;
          if (status === 'SUCCESS') paidOut += 1;
        }
        expect(paidOut).toBeLessThanOrEqual(1);
      }),
    );
  });

  it('holds the refunded amount exactly while the refund may still be paid out or has been', () => {
    expect(REFUND_STATUSES.filter(refundHoldsAmount).sort()).toEqual(['ABNORMAL', 'PROCESSING', 'SUCCESS']);
  });

  it('moves an order back from refunded only along the reversal edges, never to unpaid', () => {
    const reversals = ORDER_STATUSES.flatMap((from) =>
      ORDER_STATUSES.filter((to) => canReverseRefund(from, to)).map((to) => `${from}->${to}`),
    );
    expect(reversals.sort()).toEqual(
      [
        'PARTIAL_REFUNDED->PARTIAL_REFUNDED',
        'PARTIAL_REFUNDED->SUCCESS',
        'REFUNDED->PARTIAL_REFUNDED',
        'REFUNDED->SUCCESS',
      ].sort(),
    );
    expect(canMoveOrder('REFUNDED', 'SUCCESS')).toBe(false);
  });
});
