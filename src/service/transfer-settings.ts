/** Transfer policy: limits, the approval threshold (per merchant over the defaults) and the job's schedule. */
import type { TransferLimits } from '../core/transfer-states.ts';

export interface TransferSyncOptions {
  /** The first check of a transfer sent (or cleared to send) this long ago. */
  minGapMs: number;
  /** The longest wait between two checks of one transfer. */
  maxGapMs: number;
  /** Transfers claimed per tick by one instance. */
  batchSize: number;
  /** Gateway calls at once within a tick. */
  concurrency: number;
}

export interface TransferSettings extends TransferLimits {
  /** Each merchant's own limits over the defaults above. */
  merchants: Record<string, Partial<TransferLimits>>;
  /** WeChat Pay transfer_scene_id used when a request names none (1000: 现金营销). */
  wxpaySceneId: string;
  sync: TransferSyncOptions;
}

export const DEFAULT_TRANSFER_SYNC: TransferSyncOptions = {
  minGapMs: 60_000,
  maxGapMs: 3600_000,
  batchSize: 50,
  concurrency: 8,
};

/** 2,000 yuan a transfer, 10,000 yuan a day, a second person from 500 yuan. */
export const DEFAULT_TRANSFERS: TransferSettings = {
  perTransferMaxFen: 200_000,
  dailyMaxFen: 1_000_000,
  approvalThresholdFen: 50_000,
  merchants: {},
  wxpaySceneId: '1000',
  sync: DEFAULT_TRANSFER_SYNC,
};

export function transferLimitsFor(settings: TransferSettings, merchantId: string): TransferLimits {
  const own = settings.merchants[merchantId] ?? {};
  return {
    perTransferMaxFen: own.perTransferMaxFen ?? settings.perTransferMaxFen,
    dailyMaxFen: own.dailyMaxFen ?? settings.dailyMaxFen,
    approvalThresholdFen:
      own.approvalThresholdFen === undefined ? settings.approvalThresholdFen : own.approvalThresholdFen,
  };
}

/** The wait before the next check of a transfer of `ageMs`: half its age, within the bounds. */
export function transferCheckGapMs(sync: TransferSyncOptions, ageMs: number): number {
  return Math.min(Math.max(ageMs / 2, sync.minGapMs), sync.maxGapMs);
}
