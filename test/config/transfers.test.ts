import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config.ts';
import { loadServiceConfig } from '../../src/config/service-config.ts';
import { DEFAULT_TRANSFERS, transferLimitsFor } from '../../src/service/transfer-settings.ts';

function load(transfers: unknown) {
  const dir = mkdtempSync(join(tmpdir(), 'vkpay-transfers-'));
  const path = join(dir, 'vk-pay.config.json');
  writeFileSync(path, JSON.stringify({ transfers }));
  return loadServiceConfig({ env: {}, configPath: path, cwd: dir });
}

describe('transfer settings in the config file', () => {
  it('reads limits, the approval threshold and per-merchant overrides over the defaults', () => {
    const config = load({
      perTransferMaxFen: 50_000,
      dailyMaxFen: 300_000,
      approvalThresholdFen: 20_000,
      wxpaySceneId: '1005',
      merchants: { shop1: { dailyMaxFen: 1_000_000, approvalThresholdFen: null } },
      sync: { minGapMs: 30_000 },
    });
    expect(config.transfers).toMatchObject({ perTransferMaxFen: 50_000, wxpaySceneId: '1005' });
    const settings = { ...DEFAULT_TRANSFERS, ...config.transfers };
    expect(transferLimitsFor(settings, 'shop1')).toEqual({
      perTransferMaxFen: 50_000,
      dailyMaxFen: 1_000_000,
      approvalThresholdFen: null,
    });
    expect(transferLimitsFor(settings, 'shop2').approvalThresholdFen).toBe(20_000);
  });

  it('refuses what it does not understand, naming the field', () => {
    expect(() => load({ dailyMaxFen: 12.5 })).toThrow(ConfigError);
    expect(() => load({ perTransferMax: 100 })).toThrow(/transfers.perTransferMax/);
    expect(() => load({ merchants: { shop1: { daily: 1 } } })).toThrow(/transfers.merchants.shop1.daily/);
    expect(() => load({ sync: { minGapMs: -1 } })).toThrow(/transfers.sync.minGapMs/);
    expect(() => load({ wxpaySceneId: 'abc' })).toThrow(/wxpaySceneId/);
  });

  it('is empty without a transfers section: the library defaults apply', () => {
    expect(load(undefined).transfers).toEqual({});
  });
});
