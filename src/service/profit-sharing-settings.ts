/** Profit-sharing policy: split rules per order type and the background job's schedule. */
import type { SplitReceiverType } from '../providers/profit-sharing.ts';
import { DEFAULT_TRANSFER_SYNC, type TransferSyncOptions } from './transfer-settings.ts';

export interface SplitRuleReceiver {
  type: SplitReceiverType;
  account: string;
  /** The receiver's share in basis points of the order's amount (rounded down), or a fixed amount. */
  ratioBp?: number;
  amountFen?: number;
  description: string;
}

export interface SplitRule {
  receivers: SplitRuleReceiver[];
  /** Unfreeze what is left to the merchant with the split. */
  finish: boolean;
  /** How long after payment the split is made (WeChat takes splits from about a minute after payment). */
  delayMs: number;
}

export interface ProfitSharingSettings {
  /** By order type: a paid order of that type is created for splitting and split by the job. */
  rules: Record<string, SplitRule>;
  sync: TransferSyncOptions;
}

export const DEFAULT_PROFIT_SHARING: ProfitSharingSettings = {
  rules: {},
  sync: DEFAULT_TRANSFER_SYNC,
};

/** The split number of a rule's automatic split of an order: the same every time, so it is made once. */
export function ruleSplitNo(orderId: number): string {
  return `PSAUTO${orderId}`;
}

/** The wait before the next check of a split or return of `ageMs`: half its age, within the bounds. */
export function splitCheckGapMs(sync: TransferSyncOptions, ageMs: number): number {
  return Math.min(Math.max(ageMs / 2, sync.minGapMs), sync.maxGapMs);
}
