/** `profitSharing` in the service's config file: split rules by order type and the job's schedule. */
import type { SplitReceiverType } from '../providers/profit-sharing.ts';
import type {
  ProfitSharingSettings,
  SplitRule,
  SplitRuleReceiver,
} from '../service/profit-sharing-settings.ts';
import type { TransferSyncOptions } from '../service/transfer-settings.ts';
import { ConfigError } from './config.ts';

const RECEIVER_TYPES: readonly SplitReceiverType[] = [
  'MERCHANT_ID',
  'PERSONAL_OPENID',
  'ALIPAY_USER_ID',
  'ALIPAY_LOGON_ID',
];
const SYNC_FIELDS = ['minGapMs', 'maxGapMs', 'batchSize', 'concurrency'] as const;

function object(value: unknown, field: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new ConfigError(`${field} must be an object`);
  return value as Record<string, unknown>;
}

function whole(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw new ConfigError(`${field} must be a whole number from ${min} to ${max}`);
  return value;
}

function receiverOf(value: unknown, field: string): SplitRuleReceiver {
  const raw = object(value, field);
  for (const key of Object.keys(raw))
    if (!['type', 'account', 'ratioBp', 'amountFen', 'description'].includes(key))
      throw new ConfigError(
        `${field}.${key} is not a receiver field (type, account, ratioBp, amountFen, description)`,
      );
  if (!RECEIVER_TYPES.includes(raw.type as SplitReceiverType))
    throw new ConfigError(`${field}.type must be one of ${RECEIVER_TYPES.join(', ')}`);
  if (typeof raw.account !== 'string' || raw.account.length === 0 || raw.account.length > 64)
    throw new ConfigError(`${field}.account must be 1 to 64 characters`);
  if (typeof raw.description !== 'string' || raw.description.length === 0 || raw.description.length > 80)
    throw new ConfigError(`${field}.description must be 1 to 80 characters`);
  if ((raw.ratioBp === undefined) === (raw.amountFen === undefined))
    throw new ConfigError(`${field} needs exactly one of ratioBp (basis points of the order) or amountFen`);
  return {
    type: raw.type as SplitReceiverType,
    account: raw.account,
    description: raw.description,
    ...(raw.ratioBp !== undefined ? { ratioBp: whole(raw.ratioBp, `${field}.ratioBp`, 1, 10_000) } : {}),
    ...(raw.amountFen !== undefined
      ? { amountFen: whole(raw.amountFen, `${field}.amountFen`, 1, 2_147_483_647) }
      : {}),
  };
}

function ruleOf(value: unknown, field: string): SplitRule {
  const raw = object(value, field);
  for (const key of Object.keys(raw))
    if (!['receivers', 'finish', 'delayMs'].includes(key))
      throw new ConfigError(`${field}.${key} is not a rule field (receivers, finish, delayMs)`);
  if (!Array.isArray(raw.receivers) || raw.receivers.length === 0 || raw.receivers.length > 50)
    throw new ConfigError(`${field}.receivers must list 1 to 50 receivers`);
  const receivers = raw.receivers.map((receiver, index) =>
    receiverOf(receiver, `${field}.receivers[${index}]`),
  );
  const ratio = receivers.reduce((sum, receiver) => sum + (receiver.ratioBp ?? 0), 0);
  if (ratio > 10_000) throw new ConfigError(`${field}.receivers share more than 10000 basis points`);
  if (raw.finish !== undefined && typeof raw.finish !== 'boolean')
    throw new ConfigError(`${field}.finish must be true or false`);
  return {
    receivers,
    finish: raw.finish === true,
    delayMs: raw.delayMs === undefined ? 60_000 : whole(raw.delayMs, `${field}.delayMs`, 0, 30 * 86_400_000),
  };
}

export function profitSharingSettingsOf(value: unknown): Partial<ProfitSharingSettings> {
  if (value === undefined) return {};
  const file = object(value, 'profitSharing');
  for (const key of Object.keys(file))
    if (!['rules', 'sync'].includes(key))
      throw new ConfigError(`profitSharing.${key} is not a profit-sharing setting (rules, sync)`);
  const settings: Partial<ProfitSharingSettings> = {};
  if (file.rules !== undefined) {
    settings.rules = {};
    for (const [type, rule] of Object.entries(object(file.rules, 'profitSharing.rules')))
      settings.rules[type] = ruleOf(rule, `profitSharing.rules.${type}`);
  }
  if (file.sync !== undefined) {
    const sync = object(file.sync, 'profitSharing.sync');
    const parsed: Partial<TransferSyncOptions> = {};
    for (const key of Object.keys(sync)) {
      if (!(SYNC_FIELDS as readonly string[]).includes(key))
        throw new ConfigError(`profitSharing.sync.${key} is not one of ${SYNC_FIELDS.join(', ')}`);
      parsed[key as (typeof SYNC_FIELDS)[number]] = whole(
        sync[key],
        `profitSharing.sync.${key}`,
        1,
        2_147_483_647,
      );
    }
    settings.sync = parsed as TransferSyncOptions;
  }
  return settings;
}
