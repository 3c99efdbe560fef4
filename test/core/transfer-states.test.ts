import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PayError } from '../../src/core/errors.ts';
import {
  assertTransferMove,
  canMoveTransfer,
  chinaDateOf,
  isFinalTransfer,
  needsApproval,
  TRANSFER_STATUSES,
  transferHoldsLimit,
  transferLimitProblem,
} from '../../src/core/transfer-states.ts';

describe('the transfer state machine', () => {
  it('final states never move, and nothing returns to PENDING_APPROVAL or APPROVED', () => {
    for (const from of TRANSFER_STATUSES)
      for (const to of TRANSFER_STATUSES) {
        if (isFinalTransfer(from)) expect(canMoveTransfer(from, to)).toBe(false);
        if (to === 'PENDING_APPROVAL') expect(canMoveTransfer(from, to)).toBe(false);
        if (to === 'APPROVED') expect(canMoveTransfer(from, to)).toBe(from === 'PENDING_APPROVAL');
      }
    expect(['SUCCESS', 'FAILED', 'CANCELLED', 'REJECTED'].every((s) => isFinalTransfer(s as never))).toBe(
      true,
    );
  });

  it('only a claimed (UNKNOWN) transfer reaches the gateway states: a transfer is sent once', () => {
    expect(canMoveTransfer('APPROVED', 'UNKNOWN')).toBe(true);
    for (const to of ['PROCESSING', 'WAIT_USER_CONFIRM', 'SUCCESS', 'FAILED'] as const) {
      expect(canMoveTransfer('APPROVED', to)).toBe(false);
      expect(canMoveTransfer('PENDING_APPROVAL', to)).toBe(false);
      expect(canMoveTransfer('UNKNOWN', to)).toBe(true);
    }
    // An unknown outcome is never "retried" as a new transfer: no way back to APPROVED.
    expect(canMoveTransfer('UNKNOWN', 'APPROVED')).toBe(false);
    expect(() => assertTransferMove('SUCCESS', 'FAILED')).toThrow(PayError);
  });

  it('any walk along the edges ends in a final state or stays within the table', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 12 }), (choices) => {
        let status: (typeof TRANSFER_STATUSES)[number] = 'PENDING_APPROVAL';
        for (const choice of choices) {
          const next = TRANSFER_STATUSES.filter((to) => canMoveTransfer(status, to));
          if (next.length === 0) {
            expect(isFinalTransfer(status)).toBe(true);
            return;
          }
          status = next[choice % next.length]!;
        }
      }),
    );
  });

  it('limits: per transfer, then what is left of the day; failed ones do not hold the limit', () => {
    const limits = { perTransferMaxFen: 1_000, dailyMaxFen: 1_500, approvalThresholdFen: 800 };
    expect(transferLimitProblem(limits, 1_001, 0)?.code).toBe(40009);
    expect(transferLimitProblem(limits, 1_000, 0)).toBeNull();
    expect(transferLimitProblem(limits, 600, 1_000)?.details).toMatchObject({ limit: 'daily', leftFen: 500 });
    expect(transferLimitProblem(limits, 500, 1_000)).toBeNull();
    expect(needsApproval(limits, 799)).toBe(false);
    expect(needsApproval(limits, 800)).toBe(true);
    expect(needsApproval({ ...limits, approvalThresholdFen: null }, 1_000)).toBe(false);
    expect(transferHoldsLimit('FAILED')).toBe(false);
    expect(transferHoldsLimit('UNKNOWN')).toBe(true);
    expect(transferHoldsLimit('PENDING_APPROVAL')).toBe(true);
  });

  it('the daily limit counts China dates', () => {
    expect(chinaDateOf(new Date('2026-01-01T15:59:59Z'))).toBe('2026-01-01');
    expect(chinaDateOf(new Date('2026-01-01T16:00:00Z'))).toBe('2026-01-02');
  });
});
