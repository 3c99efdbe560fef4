/**
 * The transfer state machine (money out to a buyer's wallet). A transfer changes state only along
 * an edge of this table; the store applies each edge as a conditional update in a transaction.
 *
 * PENDING_APPROVAL: above the merchant's approval threshold, waiting for a second person.
 * APPROVED: cleared to send (at once below the threshold, or approved), not yet sent.
 * UNKNOWN: the request was sent and its answer is not (yet) known: the gateway may or may not
 *   hold it. Only a query with the same number settles it; a lost answer is never "retried" with
 *   another number, which could pay twice.
 * PROCESSING: the gateway holds it and is paying. WAIT_USER_CONFIRM: WeChat waits for the buyer
 *   to confirm receipt in WeChat (wx.requestMerchantTransfer with the package_info).
 * SUCCESS, FAILED, CANCELLED (withdrawn before the buyer confirmed), REJECTED (by the approver):
 *   final.
 */
import { PayError } from './errors.ts';

export const TRANSFER_STATUSES = [
  'PENDING_APPROVAL',
  'APPROVED',
  'UNKNOWN',
  'PROCESSING',
  'WAIT_USER_CONFIRM',
  'SUCCESS',
  'FAILED',
  'CANCELLED',
  'REJECTED',
] as const;
export type TransferStatus = (typeof TRANSFER_STATUSES)[number];

/** What a gateway can say of a transfer it holds (or certainly refused). */
export type GatewayTransferStatus = 'PROCESSING' | 'WAIT_USER_CONFIRM' | 'SUCCESS' | 'FAILED' | 'CANCELLED';

const AT_GATEWAY: readonly TransferStatus[] = [
  'PROCESSING',
  'WAIT_USER_CONFIRM',
  'SUCCESS',
  'FAILED',
  'CANCELLED',
];

const TRANSFER_EDGES: Readonly<Record<TransferStatus, readonly TransferStatus[]>> = {
  PENDING_APPROVAL: ['APPROVED', 'REJECTED'],
  // Sending claims the transfer first (APPROVED -> UNKNOWN), so one request reaches the gateway.
  APPROVED: ['UNKNOWN'],
  UNKNOWN: AT_GATEWAY,
  PROCESSING: ['WAIT_USER_CONFIRM', 'SUCCESS', 'FAILED', 'CANCELLED'],
  WAIT_USER_CONFIRM: ['PROCESSING', 'SUCCESS', 'FAILED', 'CANCELLED'],
  SUCCESS: [],
  FAILED: [],
  CANCELLED: [],
  REJECTED: [],
};

export function canMoveTransfer(from: TransferStatus, to: TransferStatus): boolean {
  return TRANSFER_EDGES[from].includes(to);
}

export function assertTransferMove(from: TransferStatus, to: TransferStatus): void {
  if (!canMoveTransfer(from, to))
    throw new PayError(40001, { field: 'status', message: `transfer cannot move from ${from} to ${to}` });
}

export function isFinalTransfer(status: TransferStatus): boolean {
  return TRANSFER_EDGES[status].length === 0;
}

/** The amount counts against the daily limit: paid, being paid, or possibly being paid. */
export function transferHoldsLimit(status: TransferStatus): boolean {
  return status !== 'FAILED' && status !== 'CANCELLED' && status !== 'REJECTED';
}

/** Left to the background job: the gateway's word is awaited. */
export function transferAwaitsGateway(status: TransferStatus): boolean {
  return status === 'UNKNOWN' || status === 'PROCESSING' || status === 'WAIT_USER_CONFIRM';
}

export interface TransferLimits {
  /** Largest single transfer, fen. */
  perTransferMaxFen: number;
  /** Largest total of one merchant's transfers on one China date, fen (failed ones do not count). */
  dailyMaxFen: number;
  /** Transfers of this amount or more wait for a second person's approval; null: never. */
  approvalThresholdFen: number | null;
}

/**
 * Why a transfer of `amountFen` may not be made when `usedTodayFen` is already held today, or
 * null. 40009: the merchant's own policy refuses it, whatever the parameters.
 */
export function transferLimitProblem(
  limits: TransferLimits,
  amountFen: number,
  usedTodayFen: number,
): PayError | null {
  if (amountFen > limits.perTransferMaxFen)
    return new PayError(40009, {
      field: 'amount',
      message: `amount ${amountFen} exceeds the per-transfer limit of ${limits.perTransferMaxFen} fen`,
      details: { limit: 'per_transfer', limitFen: limits.perTransferMaxFen },
    });
  if (usedTodayFen + amountFen > limits.dailyMaxFen)
    return new PayError(40009, {
      field: 'amount',
      message: `amount ${amountFen} exceeds what is left of the daily limit (${Math.max(limits.dailyMaxFen - usedTodayFen, 0)} of ${limits.dailyMaxFen} fen)`,
      details: {
        limit: 'daily',
        limitFen: limits.dailyMaxFen,
        leftFen: Math.max(limits.dailyMaxFen - usedTodayFen, 0),
      },
    });
  return null;
}

export function needsApproval(limits: TransferLimits, amountFen: number): boolean {
  return limits.approvalThresholdFen !== null && amountFen >= limits.approvalThresholdFen;
}

/** The China (UTC+8) calendar date of an instant, YYYY-MM-DD: the day a daily limit counts in. */
export function chinaDateOf(at: Date): string {
  return new Date(at.getTime() + 8 * 3600_000).toISOString().slice(0, 10);
}

export function isTransferStatus(value: unknown): value is TransferStatus {
  return typeof value === 'string' && (TRANSFER_STATUSES as readonly string[]).includes(value);
}
