/**
 * The profit-sharing state machines (分账: a paid order split between the merchant and receivers)
 * and the money rules that keep every split, return and refund of an order within its amount.
 *
 * A split: UNKNOWN (sent, its answer not known: only a query with the same number settles it; its
 * lines count as split meanwhile), PROCESSING (the gateway holds it and pays the lines), FINISHED
 * (every line has its result), FAILED (certainly refused: nothing split). A line: PENDING, SUCCESS,
 * CLOSED (the receiver was not paid; its amount is the merchant's again).
 *
 * A return (a split taken back from a receiver): UNKNOWN, PROCESSING, SUCCESS, FAILED.
 */
import { PayError } from './errors.ts';

export const SPLIT_STATUSES = ['UNKNOWN', 'PROCESSING', 'FINISHED', 'FAILED'] as const;
export type SplitStatus = (typeof SPLIT_STATUSES)[number];

export const SPLIT_LINE_RESULTS = ['PENDING', 'SUCCESS', 'CLOSED'] as const;
export type SplitLineStatus = (typeof SPLIT_LINE_RESULTS)[number];

export const RETURN_STATUSES = ['UNKNOWN', 'PROCESSING', 'SUCCESS', 'FAILED'] as const;
export type SplitReturnStatus = (typeof RETURN_STATUSES)[number];

/** A split request (kind split) or the unfreeze of what is left (kind unfreeze, no lines). */
export type SplitKind = 'split' | 'unfreeze';

const SPLIT_EDGES: Readonly<Record<SplitStatus, readonly SplitStatus[]>> = {
  UNKNOWN: ['PROCESSING', 'FINISHED', 'FAILED'],
  PROCESSING: ['FINISHED'],
  FINISHED: [],
  FAILED: [],
};

const LINE_EDGES: Readonly<Record<SplitLineStatus, readonly SplitLineStatus[]>> = {
  PENDING: ['SUCCESS', 'CLOSED'],
  SUCCESS: [],
  CLOSED: [],
};

const RETURN_EDGES: Readonly<Record<SplitReturnStatus, readonly SplitReturnStatus[]>> = {
  UNKNOWN: ['PROCESSING', 'SUCCESS', 'FAILED'],
  PROCESSING: ['SUCCESS', 'FAILED'],
  SUCCESS: [],
  FAILED: [],
};

export function canMoveSplit(from: SplitStatus, to: SplitStatus): boolean {
  return SPLIT_EDGES[from].includes(to);
}

export function canMoveSplitLine(from: SplitLineStatus, to: SplitLineStatus): boolean {
  return LINE_EDGES[from].includes(to);
}

export function canMoveReturn(from: SplitReturnStatus, to: SplitReturnStatus): boolean {
  return RETURN_EDGES[from].includes(to);
}

export function assertSplitMove(from: SplitStatus, to: SplitStatus): void {
  if (!canMoveSplit(from, to))
    throw new PayError(40001, { field: 'status', message: `split cannot move from ${from} to ${to}` });
}

export function isFinalSplit(status: SplitStatus): boolean {
  return SPLIT_EDGES[status].length === 0;
}

export function isFinalReturn(status: SplitReturnStatus): boolean {
  return RETURN_EDGES[status].length === 0;
}

/** Left to the background job: the gateway's word is awaited. */
export function splitAwaitsGateway(status: SplitStatus): boolean {
  return status === 'UNKNOWN' || status === 'PROCESSING';
}

export function returnAwaitsGateway(status: SplitReturnStatus): boolean {
  return status === 'UNKNOWN' || status === 'PROCESSING';
}

/**
 * A line's amount is split (gone from the order) while it is paid, being paid, or its split's
 * outcome is unknown; a CLOSED line or a FAILED split holds nothing.
 */
export function lineHoldsAmount(split: SplitStatus, line: SplitLineStatus): boolean {
  if (split === 'FAILED') return false;
  if (split === 'UNKNOWN') return true;
  return line === 'PENDING' || line === 'SUCCESS';
}

/**
 * A return gives its amount back to the order once it succeeded, or while it rides on a refund
 * that itself holds the amount (Alipay: the refund takes it back from the receiver).
 */
export function returnGivesBack(status: SplitReturnStatus, withRefund: boolean): boolean {
  return status === 'SUCCESS' || (withRefund && returnAwaitsGateway(status));
}

export interface SplitLedger {
  /** The order's amount, fen. */
  totalFen: number;
  /** Refunds that succeeded, are in flight or await a hand. */
  refundHeldFen: number;
  /** Lines that hold their amount (lineHoldsAmount). */
  splitHeldFen: number;
  /** Returns that gave (or are giving, with a refund) their amount back (returnGivesBack). */
  returnedFen: number;
}

/** What is split and not given back: the receivers' share of the order. */
export function splitNetFen(ledger: SplitLedger): number {
  return Math.max(ledger.splitHeldFen - ledger.returnedFen, 0);
}

/** What may still be split (or refunded without returns): amount − refunded − split net of returns. */
export function splittableFen(ledger: SplitLedger): number {
  return Math.max(ledger.totalFen - ledger.refundHeldFen - splitNetFen(ledger), 0);
}

/** Why a split of `amountFen` may not be made on this ledger, or null. */
export function splitAmountProblem(ledger: SplitLedger, amountFen: number): PayError | null {
  const left = splittableFen(ledger);
  if (amountFen <= left) return null;
  return new PayError(40001, {
    field: 'receivers',
    message: `the split of ${amountFen} fen exceeds the ${left} fen left to split on this order`,
    details: { splittableFen: left },
  });
}

/**
 * How much of a refund of `refundFen` must come back from receivers: the part above what the order
 * still holds unsplit. 0 when the refund fits in it.
 */
export function refundShortfallFen(ledger: SplitLedger, refundFen: number): number {
  return Math.max(refundFen - splittableFen(ledger), 0);
}

/** A paid line a refund can take back from, with what was already given back of it. */
export interface ReturnableLine {
  splitRef: number;
  type: string;
  account: string;
  amountFen: number;
  returnedFen: number;
}

export interface PlannedReturn {
  splitRef: number;
  type: string;
  account: string;
  amountFen: number;
}

/**
 * Takes `shortFen` back from the latest splits' paid lines first (`lines` newest first). null when
 * the lines cannot cover it.
 */
export function planSplitReturns(lines: readonly ReturnableLine[], shortFen: number): PlannedReturn[] | null {
  const plan: PlannedReturn[] = [];
  let left = shortFen;
  for (const line of lines) {
    if (left <= 0) break;
    const free = line.amountFen - line.returnedFen;
    if (free <= 0) continue;
    const take = Math.min(free, left);
    plan.push({ splitRef: line.splitRef, type: line.type, account: line.account, amountFen: take });
    left -= take;
  }
  return left > 0 ? null : plan;
}

/** A receiver's share of a rule: a ratio in basis points of the order, or a fixed amount. */
export interface SplitRuleShare {
  ratioBp?: number;
  amountFen?: number;
}

/**
 * The amounts of a rule's receivers on an order of `totalFen` with `splittable` left: ratios round
 * down, and the lines are cut (in order) so that their sum never exceeds what is splittable. Lines
 * of 0 fen are left out by the caller.
 */
export function ruleAmounts(
  shares: readonly SplitRuleShare[],
  totalFen: number,
  splittable: number,
): number[] {
  let left = splittable;
  return shares.map((share) => {
    const wanted =
      share.amountFen !== undefined
        ? share.amountFen
        : Math.floor((totalFen * (share.ratioBp ?? 0)) / 10_000);
    const amount = Math.max(Math.min(wanted, left), 0);
    left -= amount;
    return amount;
  });
}

export function isSplitStatus(value: unknown): value is SplitStatus {
  return typeof value === 'string' && (SPLIT_STATUSES as readonly string[]).includes(value);
}
