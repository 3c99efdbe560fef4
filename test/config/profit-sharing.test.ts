import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config.ts';
import { loadServiceConfig } from '../../src/config/service-config.ts';

function load(profitSharing: unknown) {
  const dir = mkdtempSync(join(tmpdir(), 'vkpay-profit-sharing-'));
  const path = join(dir, 'vk-pay.config.json');
  writeFileSync(path, JSON.stringify({ profitSharing }));
  return loadServiceConfig({ env: {}, configPath: path, cwd: dir });
}

describe('profit-sharing rules in the config file', () => {
  it('reads rules per order type, with a default delay, and the job schedule', () => {
    const config = load({
      rules: {
        vip: {
          receivers: [
            { type: 'MERCHANT_ID', account: '1900007501', ratioBp: 3000, description: '门店分成' },
            { type: 'PERSONAL_OPENID', account: 'oUser', amountFen: 50, description: '推荐奖励' },
          ],
          finish: true,
        },
      },
      sync: { minGapMs: 30_000 },
    });
    expect(config.profitSharing.rules?.vip).toEqual({
      receivers: [
        { type: 'MERCHANT_ID', account: '1900007501', ratioBp: 3000, description: '门店分成' },
        { type: 'PERSONAL_OPENID', account: 'oUser', amountFen: 50, description: '推荐奖励' },
      ],
      finish: true,
      delayMs: 60_000,
    });
    expect(config.profitSharing.sync).toEqual({ minGapMs: 30_000 });
    expect(load(undefined).profitSharing).toEqual({});
  });

  it('refuses a rule that is not one, naming the field', () => {
    const receiver = { type: 'MERCHANT_ID', account: '1900007501', description: 'x' };
    for (const [bad, field] of [
      [{ rules: { vip: { receivers: [] } } }, 'profitSharing.rules.vip.receivers'],
      [{ rules: { vip: { receivers: [{ ...receiver, type: 'BANK' }] } } }, 'type'],
      [{ rules: { vip: { receivers: [receiver] } } }, 'exactly one of ratioBp'],
      [{ rules: { vip: { receivers: [{ ...receiver, ratioBp: 5000, amountFen: 1 }] } } }, 'exactly one'],
      [
        {
          rules: {
            vip: {
              receivers: [
                { ...receiver, ratioBp: 6000 },
                { ...receiver, ratioBp: 5000 },
              ],
            },
          },
        },
        'more than 10000',
      ],
      [{ rules: { vip: { receivers: [{ ...receiver, ratioBp: 10 }], finish: 'yes' } } }, 'finish'],
      [{ rule: {} }, 'profitSharing.rule is not'],
      [{ sync: { every: 1 } }, 'profitSharing.sync.every'],
    ] as const) {
      expect(() => load(bad)).toThrow(ConfigError);
      expect(() => load(bad)).toThrow(field);
    }
  });
});
