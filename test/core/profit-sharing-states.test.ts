import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canMoveReturn,
  canMoveSplit,
  canMoveSplitLine,
  lineHoldsAmount,
  planSplitReturns,
  refundShortfallFen,
  returnGivesBack,
  ruleAmounts,
  type SplitLedger,
  type SplitStatus,
  splitAmountProblem,
  splittableFen,
} from '../../src/core/profit-sharing-states.ts';

describe('profit-sharing state machines', () => {
  it('a split settles from UNKNOWN or PROCESSING and never leaves a final state', () => {
    expect(canMoveSplit('UNKNOWN', 'PROCESSING')).toBe(true);
    expect(canMoveSplit('UNKNOWN', 'FINISHED')).toBe(true);
    expect(canMoveSplit('UNKNOWN', 'FAILED')).toBe(true);
    expect(canMoveSplit('PROCESSING', 'FINISHED')).toBe(true);
    expect(canMoveSplit('PROCESSING', 'FAILED')).toBe(false);
    for (const to of ['UNKNOWN', 'PROCESSING', 'FAILED'] as const)
      expect(canMoveSplit('FINISHED', to)).toBe(false);
    expect(canMoveSplit('FAILED', 'PROCESSING')).toBe(false);
  });

  it('a line is paid or closed once, and a return succeeds or fails once', () => {
    expect(canMoveSplitLine('PENDING', 'SUCCESS')).toBe(true);
    expect(canMoveSplitLine('PENDING', 'CLOSED')).toBe(true);
    expect(canMoveSplitLine('SUCCESS', 'CLOSED')).toBe(false);
    expect(canMoveSplitLine('CLOSED', 'SUCCESS')).toBe(false);
    expect(canMoveReturn('UNKNOWN', 'SUCCESS')).toBe(true);
    expect(canMoveReturn('PROCESSING', 'FAILED')).toBe(true);
    expect(canMoveReturn('SUCCESS', 'FAILED')).toBe(false);
    expect(canMoveReturn('FAILED', 'PROCESSING')).toBe(false);
  });

  it('a line of an unknown split holds its amount whatever its result; a failed split holds nothing', () => {
    expect(lineHoldsAmount('UNKNOWN', 'PENDING')).toBe(true);
    expect(lineHoldsAmount('PROCESSING', 'PENDING')).toBe(true);
    expect(lineHoldsAmount('FINISHED', 'SUCCESS')).toBe(true);
    expect(lineHoldsAmount('FINISHED', 'CLOSED')).toBe(false);
    expect(lineHoldsAmount('FAILED', 'PENDING')).toBe(false);
    expect(returnGivesBack('SUCCESS', false)).toBe(true);
    expect(returnGivesBack('PROCESSING', false)).toBe(false);
    expect(returnGivesBack('PROCESSING', true)).toBe(true);
    expect(returnGivesBack('FAILED', true)).toBe(false);
  });
});

describe('profit-sharing money rules', () => {
  const ledger = (over: Partial<SplitLedger> = {}): SplitLedger => ({
    totalFen: 1000,
    refundHeldFen: 0,
    splitHeldFen: 0,
    returnedFen: 0,
    ...over,
  });

  it('splittable is amount − refunded − split + returned', () => {
    expect(splittableFen(ledger())).toBe(1000);
    expect(splittableFen(ledger({ refundHeldFen: 100, splitHeldFen: 300, returnedFen: 50 }))).toBe(650);
    expect(splitAmountProblem(ledger({ splitHeldFen: 300 }), 700)).toBeNull();
    const problem = splitAmountProblem(ledger({ splitHeldFen: 300 }), 701);
    expect(problem?.code).toBe(40001);
    expect(problem?.details).toEqual({ splittableFen: 700 });
  });

  it('a refund above what is unsplit is short by the difference', () => {
    expect(refundShortfallFen(ledger({ splitHeldFen: 300 }), 700)).toBe(0);
    expect(refundShortfallFen(ledger({ splitHeldFen: 300 }), 1000)).toBe(300);
    expect(refundShortfallFen(ledger({ splitHeldFen: 300, returnedFen: 300 }), 1000)).toBe(0);
  });

  it('returns with a refund take from the latest splits first, never more than a line has left', () => {
    const lines = [
      { splitRef: 2, type: 'ALIPAY_USER_ID', account: 'b', amountFen: 100, returnedFen: 40 },
      { splitRef: 1, type: 'ALIPAY_USER_ID', account: 'a', amountFen: 200, returnedFen: 0 },
    ];
    expect(planSplitReturns(lines, 150)).toEqual([
      { splitRef: 2, type: 'ALIPAY_USER_ID', account: 'b', amountFen: 60 },
      { splitRef: 1, type: 'ALIPAY_USER_ID', account: 'a', amountFen: 90 },
    ]);
    expect(planSplitReturns(lines, 261)).toBeNull();
  });

  it('rule amounts round down and are cut to what is splittable', () => {
    expect(ruleAmounts([{ ratioBp: 3333 }, { amountFen: 50 }], 1001, 1001)).toEqual([333, 50]);
    expect(ruleAmounts([{ ratioBp: 5000 }, { amountFen: 400 }], 1000, 600)).toEqual([500, 100]);
    expect(ruleAmounts([{ amountFen: 400 }], 1000, 0)).toEqual([0]);
  });

  /**
   * A random history of one order: splits (each claimed only within splittableFen), lines closed or
   * paid, splits failing, refunds (within the unsplit amount, or carrying returns planned from the
   * paid lines), returns of paid lines. Whatever the order, what left the merchant never exceeds
   * the amount, and no line gives back more than it was paid.
   */
  it('no sequence of splits, refunds and returns ever takes more than the order amount', () => {
    type Line = { split: number; amount: number; result: 'PENDING' | 'SUCCESS' | 'CLOSED'; returned: number };
    const op = fc.oneof(
      fc.record({ kind: fc.constant('split' as const), amount: fc.integer({ min: 1, max: 600 }) }),
      fc.record({ kind: fc.constant('settle' as const), pick: fc.nat(), close: fc.boolean() }),
      fc.record({ kind: fc.constant('fail' as const), pick: fc.nat() }),
      fc.record({
        kind: fc.constant('refund' as const),
        amount: fc.integer({ min: 1, max: 1000 }),
        withReturns: fc.boolean(),
      }),
      fc.record({
        kind: fc.constant('return' as const),
        pick: fc.nat(),
        amount: fc.integer({ min: 1, max: 600 }),
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.array(op, { maxLength: 40 }), (totalFen, ops) => {
        const splits: SplitStatus[] = [];
        const lines: Line[] = [];
        let refunded = 0;
        let returned = 0;
        const now = (): SplitLedger => ({
          totalFen,
          refundHeldFen: refunded,
          splitHeldFen: lines
            .filter((line) => lineHoldsAmount(splits[line.split]!, line.result))
            .reduce((sum, line) => sum + line.amount, 0),
          returnedFen: returned,
        });
        for (const step of ops) {
          if (step.kind === 'split') {
            if (splitAmountProblem(now(), step.amount)) continue;
            splits.push('UNKNOWN');
            lines.push({ split: splits.length - 1, amount: step.amount, result: 'PENDING', returned: 0 });
          } else if (step.kind === 'settle' && lines.length > 0) {
            const line = lines[step.pick % lines.length]!;
            if (splits[line.split] === 'FAILED') continue;
            if (splits[line.split] === 'UNKNOWN') splits[line.split] = 'PROCESSING';
            const to = step.close ? 'CLOSED' : 'SUCCESS';
            if (canMoveSplitLine(line.result, to)) line.result = to;
          } else if (step.kind === 'fail' && splits.length > 0) {
            const index = step.pick % splits.length;
            if (canMoveSplit(splits[index]!, 'FAILED')) splits[index] = 'FAILED';
          } else if (step.kind === 'refund') {
            if (step.amount > totalFen - refunded) continue;
            const short = refundShortfallFen(now(), step.amount);
            if (short === 0) refunded += step.amount;
            else if (step.withReturns) {
              const paid = lines.filter(
                (line) => line.result === 'SUCCESS' && splits[line.split] !== 'FAILED',
              );
              const plan = planSplitReturns(
                paid.map((line) => ({
                  splitRef: lines.indexOf(line),
                  type: 'T',
                  account: 'a',
                  amountFen: line.amount,
                  returnedFen: line.returned,
                })),
                short,
              );
              if (!plan) continue;
              for (const planned of plan) {
                lines[planned.splitRef]!.returned += planned.amountFen;
                returned += planned.amountFen;
              }
              refunded += step.amount;
            }
          } else if (step.kind === 'return' && lines.length > 0) {
            const line = lines[step.pick % lines.length]!;
            if (line.result !== 'SUCCESS' || step.amount > line.amount - line.returned) continue;
            line.returned += step.amount;
            returned += step.amount;
          }
          const ledger = now();
          const splitNet = ledger.splitHeldFen - ledger.returnedFen;
          expect(refunded + Math.max(splitNet, 0)).toBeLessThanOrEqual(totalFen);
          expect(splittableFen(ledger)).toBeGreaterThanOrEqual(0);
          for (const line of lines) expect(line.returned).toBeLessThanOrEqual(line.amount);
        }
      }),
      { numRuns: 500 },
    );
  });
});
