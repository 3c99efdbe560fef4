import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config.ts';
import { loadServiceConfig } from '../../src/config/service-config.ts';

const wx = (account?: string) => ({
  merchantId: 'm1',
  ...(account ? { account } : {}),
  mchId: '1900000109',
  appId: 'wx1',
  serialNo: 'AB',
  privateKey: 'inline-key',
  apiV3Key: 'k'.repeat(32),
});
const route = { id: 'wx-new', match: { provider: 'wxpay' }, stable: 'default', canary: 'new', share: 10 };

function load(file: unknown) {
  const dir = mkdtempSync(join(tmpdir(), 'vkpay-routes-'));
  const path = join(dir, 'vk-pay.config.json');
  writeFileSync(path, JSON.stringify(file));
  return loadServiceConfig({ env: {}, configPath: path });
}
const errorOf = (file: unknown): string => {
  try {
    load(file);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('routes in the service configuration', () => {
  it('reads each merchant’s routes over its configured accounts', () => {
    const config = load({ wxpay: [wx(), wx('new')], routes: { m1: [route] } });
    expect(config.routes).toEqual({ m1: [route] });
    expect(config.wxpay.map((merchant) => merchant.account ?? 'default')).toEqual(['default', 'new']);
  });

  it('no routes is an empty map, and merchants without an account keep working as `default`', () => {
    expect(load({ wxpay: [wx()] }).routes).toEqual({});
  });

  it('refuses malformed routes with the field to fix', () => {
    const base = { wxpay: [wx(), wx('new')] };
    expect(errorOf({ ...base, routes: [route] })).toMatch(/routes must map merchant ids/);
    expect(errorOf({ ...base, routes: { m1: [{ ...route, weight: 1 }] } })).toMatch(
      /routes\.m1\[0\] has unknown field weight/,
    );
    expect(errorOf({ ...base, routes: { m1: [{ ...route, share: 101 }] } })).toMatch(
      /share must be a percent/,
    );
    expect(errorOf({ ...base, routes: { m1: [{ ...route, share: '10' }] } })).toMatch(
      /share must be a percent/,
    );
    expect(errorOf({ ...base, routes: { m1: [{ ...route, share: 10.001 }] } })).toMatch(/steps of 0\.01/);
    expect(errorOf({ ...base, routes: { m1: [{ ...route, canary: 'other' }] } })).toMatch(
      /wxpay merchant m1 has no account "other"/,
    );
    expect(errorOf({ ...base, routes: { m1: [{ ...route, canary: 'default' }] } })).toMatch(
      /stable and canary must be different/,
    );
    expect(errorOf({ ...base, routes: { m1: [route, route] } })).toMatch(/used twice/);
    expect(errorOf({ ...base, routes: { m1: [{ ...route, match: { provider: 'paypal' } }] } })).toMatch(
      /match\.provider must be one of/,
    );
    expect(errorOf({ ...base, routes: { m1: [{ ...route, match: { scene: 'tv' } }] } })).toMatch(
      /match\.scene must be one of/,
    );
    expect(errorOf({ ...base, routes: { m1: [{ ...route, id: 'a b' }] } })).toMatch(/\.id must be/);
  });

  it('reads an automatic rollback rule, and refuses a malformed one with the field to fix', () => {
    const base = { wxpay: [wx(), wx('new')] };
    const autoRollback = { margin: 0.05, minPayments: 20, windowMinutes: 5 };
    expect(load({ ...base, routes: { m1: [{ ...route, autoRollback }] } }).routes.m1).toEqual([
      { ...route, autoRollback: { margin: 0.05, minPayments: 20, windowMs: 300_000 } },
    ]);
    const bad = (rule: unknown) => errorOf({ ...base, routes: { m1: [{ ...route, autoRollback: rule }] } });
    expect(bad([])).toMatch(/routes\.m1\[0\]\.autoRollback must be an object/);
    expect(bad({ ...autoRollback, threshold: 1 })).toMatch(/autoRollback has unknown field threshold/);
    expect(bad({ ...autoRollback, margin: 5 })).toMatch(/autoRollback\.margin must be a share/);
    expect(bad({ ...autoRollback, margin: '0.05' })).toMatch(/autoRollback\.margin must be a share/);
    expect(bad({ ...autoRollback, minPayments: 0 })).toMatch(/autoRollback\.minPayments must be a whole/);
    expect(bad({ ...autoRollback, minPayments: 2.5 })).toMatch(/autoRollback\.minPayments must be a whole/);
    expect(bad({ ...autoRollback, windowMinutes: 0 })).toMatch(/autoRollback\.windowMinutes must be/);
    expect(bad({ margin: 0.05, minPayments: 20 })).toMatch(/autoRollback\.windowMinutes must be/);
  });

  it('refuses a malformed or repeated account id', () => {
    expect(errorOf({ wxpay: [wx('no spaces')] })).toMatch(/wxpay\[0\]\.account must be 1 to 32/);
    expect(errorOf({ wxpay: [wx(), wx('default')] })).toMatch(/account default is configured twice/);
  });
});
