/** `transfers` in the service's config file: limits, the approval threshold, per-merchant overrides. */
import type { TransferLimits } from '../core/transfer-states.ts';
import type { TransferSettings, TransferSyncOptions } from '../service/transfer-settings.ts';
import { ConfigError } from './config.ts';

const LIMIT_FIELDS = ['perTransferMaxFen', 'dailyMaxFen', 'approvalThresholdFen'] as const;
const SYNC_FIELDS = ['minGapMs', 'maxGapMs', 'batchSize', 'concurrency'] as const;

function object(value: unknown, field: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new ConfigError(`${field} must be an object`);
  return value as Record<string, unknown>;
}

function fen(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 2_147_483_647)
    throw new ConfigError(`${field} must be a positive integer of fen`);
  return value;
}

function limitsOf(value: Record<string, unknown>, field: string): Partial<TransferLimits> {
  const limits: Partial<TransferLimits> = {};
  for (const key of Object.keys(value)) {
    if (!(LIMIT_FIELDS as readonly string[]).includes(key) && field !== 'transfers')
      throw new ConfigError(`${field}.${key} is not a transfer limit (${LIMIT_FIELDS.join(', ')})`);
  }
  if (value.perTransferMaxFen !== undefined)
    limits.perTransferMaxFen = fen(value.perTransferMaxFen, `${field}.perTransferMaxFen`);
  if (value.dailyMaxFen !== undefined) limits.dailyMaxFen = fen(value.dailyMaxFen, `${field}.dailyMaxFen`);
  // null: no approval step at all.
  if (value.approvalThresholdFen !== undefined)
    limits.approvalThresholdFen =
      value.approvalThresholdFen === null
        ? null
        : fen(value.approvalThresholdFen, `${field}.approvalThresholdFen`);
  return limits;
}

export function transferSettingsOf(value: unknown): Partial<TransferSettings> {
  if (value === undefined) return {};
  const file = object(value, 'transfers');
  const known = [...LIMIT_FIELDS, 'merchants', 'wxpaySceneId', 'sync'];
  for (const key of Object.keys(file))
    if (!known.includes(key))
      throw new ConfigError(`transfers.${key} is not a transfer setting (${known.join(', ')})`);
  const settings: Partial<TransferSettings> = limitsOf(file, 'transfers');
  if (file.merchants !== undefined) {
    settings.merchants = {};
    for (const [merchantId, limits] of Object.entries(object(file.merchants, 'transfers.merchants')))
      settings.merchants[merchantId] = limitsOf(
        object(limits, `transfers.merchants.${merchantId}`),
        `transfers.merchants.${merchantId}`,
      );
  }
  if (file.wxpaySceneId !== undefined) {
    if (typeof file.wxpaySceneId !== 'string' || !/^[0-9]{1,16}$/.test(file.wxpaySceneId))
      throw new ConfigError('transfers.wxpaySceneId must be a WeChat Pay transfer_scene_id (digits)');
    settings.wxpaySceneId = file.wxpaySceneId;
  }
  if (file.sync !== undefined) {
    const sync = object(file.sync, 'transfers.sync');
    const parsed: Partial<TransferSyncOptions> = {};
    for (const key of Object.keys(sync)) {
      if (!(SYNC_FIELDS as readonly string[]).includes(key))
        throw new ConfigError(`transfers.sync.${key} is not one of ${SYNC_FIELDS.join(', ')}`);
      const number = sync[key];
      if (typeof number !== 'number' || !Number.isInteger(number) || number < 1)
        throw new ConfigError(`transfers.sync.${key} must be a positive integer`);
      parsed[key as (typeof SYNC_FIELDS)[number]] = number;
    }
    settings.sync = parsed as TransferSyncOptions;
  }
  return settings;
}
