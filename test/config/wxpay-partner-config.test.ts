import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runDoctor } from '../../src/cli/doctor.ts';
import { ConfigError } from '../../src/config/config.ts';
import { loadServiceConfig } from '../../src/config/service-config.ts';
import { createWxpayProvider } from '../../src/providers/wxpay/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'vkpay-wxpartner-'));
const merchantKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
const gatewayKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
writeFileSync(join(dir, 'sp_key.pem'), merchantKey.privateKey.export({ type: 'pkcs8', format: 'pem' }));
writeFileSync(join(dir, 'wechatpay_pub.pem'), gatewayKey.publicKey.export({ type: 'spki', format: 'pem' }));
const env = { SP_APIV3_KEY: randomBytes(16).toString('hex') };

const serviceProvider = {
  id: 'agency',
  spMchId: '1900000100',
  spAppId: 'wx8888888888888888',
  serialNo: randomBytes(20).toString('hex').toUpperCase(),
  privateKey: 'file:sp_key.pem',
  apiV3Key: 'env:SP_APIV3_KEY',
  wechatpayPublicKey: { id: 'PUB_KEY_ID_0119000001002024', pem: 'file:wechatpay_pub.pem' },
};
const shopA = {
  merchantId: 'shopA',
  serviceProvider: 'agency',
  subMchId: '1900000101',
  subAppId: 'wxa000000000000001',
};
const shopB = { merchantId: 'shopB', serviceProvider: 'agency', subMchId: '1900000102' };

function load(file: Record<string, unknown>) {
  const path = join(dir, `config-${randomBytes(4).toString('hex')}.json`);
  writeFileSync(path, JSON.stringify(file));
  return loadServiceConfig({ env, configPath: path });
}

const errorOf = (file: Record<string, unknown>): string => {
  try {
    load(file);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('WeChat Pay service providers in the service configuration', () => {
  it('declares the keys once, by reference, and sub-merchants as merchants of ours that the provider and doctor take', async () => {
    const config = load({ wxpayServiceProviders: [serviceProvider], wxpay: [shopA, shopB] });
    expect(config.wxpayServiceProviders[0]!.apiV3Key).toBe(env.SP_APIV3_KEY);
    expect(config.wxpay).toEqual([shopA, shopB]);
    const provider = createWxpayProvider({
      merchants: config.wxpay,
      serviceProviders: config.wxpayServiceProviders,
    });
    expect(provider.identity('shopA', 'jsapi')).toEqual({ mchId: '1900000101', appId: 'wxa000000000000001' });
    expect(provider.identity('shopB', 'jsapi')).toEqual({ mchId: '1900000102', appId: 'wx8888888888888888' });
    const checks = await runDoctor(config);
    const partnerChecks = checks.filter((check) => /service provider|sub-merchant/.test(check.what));
    expect(partnerChecks.every((check) => check.ok)).toBe(true);
    expect(partnerChecks.map((check) => `${check.what}: ${check.detail}`)).toEqual(
      expect.arrayContaining([
        'wxpay service provider agency (sp_mchid 1900000100): keys and settings parse: 2 sub-merchants: shopA, shopB',
        'wxpay merchant shopA: sub-merchant of service provider agency: sub_mchid 1900000101 via sp_mchid 1900000100, sub_appid wxa000000000000001',
        'wxpay merchant shopB: sub-merchant of service provider agency: sub_mchid 1900000102 via sp_mchid 1900000100, pays under sp_appid',
      ]),
    );
    // The doctor never prints the keys it checked.
    expect(JSON.stringify(checks)).not.toContain(env.SP_APIV3_KEY);
  });

  it('names what is wrong: an unknown service provider, a missing sub_mchid, keys on a sub-merchant, a shared sub_mchid', () => {
    const base = { wxpayServiceProviders: [serviceProvider] };
    expect(errorOf({ ...base, wxpay: [{ ...shopA, serviceProvider: 'agncy' }] })).toBe(
      'wxpay[0].serviceProvider names "agncy", which is not in wxpayServiceProviders (known: agency)',
    );
    expect(errorOf({ wxpay: [shopA] })).toContain('(none is configured)');
    const { subMchId: _gone, ...noSubMchId } = shopB;
    expect(errorOf({ ...base, wxpay: [noSubMchId] })).toBe(
      'wxpay[0].subMchId is required for a sub-merchant of agency',
    );
    expect(errorOf({ ...base, wxpay: [{ ...shopB, subMchId: 'shop-b' }] })).toContain(
      "wxpay[0].subMchId must be the sub-merchant's merchant number",
    );
    expect(errorOf({ ...base, wxpay: [{ ...shopB, subMchId: '1900000100' }] })).toContain(
      "is the service provider's own spMchId",
    );
    expect(errorOf({ ...base, wxpay: [{ ...shopB, apiV3Key: 'env:SP_APIV3_KEY' }] })).toContain(
      'wxpay[0].apiV3Key: a sub-merchant carries no keys or gateway settings of its own',
    );
    expect(errorOf({ ...base, wxpay: [{ ...shopB, apiVersion: 'v2' }] })).toContain(
      'partner mode is APIv3 only',
    );
    expect(errorOf({ ...base, wxpay: [shopA, { ...shopB, subMchId: shopA.subMchId }] })).toContain(
      'sub-merchant 1900000101 of agency is already merchant shopA',
    );
    expect(errorOf({ wxpayServiceProviders: [serviceProvider, serviceProvider], wxpay: [] })).toContain(
      'service provider agency is configured twice',
    );
    expect(errorOf({ wxpayServiceProviders: [{ ...serviceProvider, spMchId: undefined }] })).toContain(
      'wxpayServiceProviders[0].spMchId',
    );
    expect(
      errorOf({ wxpayServiceProviders: [{ ...serviceProvider, apiV3Key: 'env:MISSING_KEY' }], wxpay: [] }),
    ).toContain('wxpayServiceProviders[0].apiV3Key');
  });

  it('refuses a service provider whose keys do not load, naming the service provider, not a merchant', () => {
    const config = load({
      wxpayServiceProviders: [{ ...serviceProvider, apiV3Key: 'short' }],
      wxpay: [shopA],
    });
    expect(() =>
      createWxpayProvider({ merchants: config.wxpay, serviceProviders: config.wxpayServiceProviders }),
    ).toThrow('wxpay service provider agency: apiV3Key must be exactly 32 bytes');
  });
});
