import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { appleIapChecks } from '../../src/cli/doctor-appleiap.ts';
import { startSandboxes } from '../../src/cli/sandbox.ts';
import type { ServiceConfig } from '../../src/config/service-config.ts';
import { AppleTestCa } from '../../src/sandbox/appleiap/test-ca.ts';

const configOf = (app: Record<string, unknown>, env = 'development') =>
  ({ env, appleiap: [app] }) as unknown as ServiceConfig;

describe('vk-pay doctor: Apple in-app purchase apps', () => {
  it('passes a good app and names each broken part of a bad one', async () => {
    const ca = await AppleTestCa.create();
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const good = {
      merchantId: 'shop1',
      bundleId: 'com.example.app',
      issuerId: '57246542-96fe-1a63-e053-0824d011072a',
      keyId: '2X9R4HXF34',
      privateKey: key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      environment: 'Sandbox',
      rootCertificates: [ca.rootPem],
      products: { coins_60: { totalFen: 600, type: 'goods' } },
    };
    const checks = appleIapChecks(configOf(good), new Date());
    expect(
      checks.filter((c) => !c.ok),
      JSON.stringify(checks),
    ).toEqual([]);
    expect(checks.map((c) => c.what)).toEqual([
      'appleiap app com.example.app of shop1: bundle id present',
      'appleiap app com.example.app of shop1: In-App Purchase key loads',
      'appleiap app com.example.app of shop1: root certificate 1 parses',
      'appleiap app com.example.app of shop1: settings resolve',
    ]);

    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const broken = {
      ...good,
      bundleId: '',
      privateKey: rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      rootCertificates: ['-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----'],
      baseUrl: 'http://api.example',
    };
    const failed = appleIapChecks(configOf(broken, 'production'), new Date()).filter((c) => !c.ok);
    expect(failed.map((c) => c.what.replace(/^appleiap app .+? of shop1: /, ''))).toEqual([
      'bundle id present',
      'In-App Purchase key loads',
      'root certificate 1 parses',
      'settings resolve',
      'App Store URLs',
    ]);
    expect(JSON.stringify(failed)).not.toContain('PRIVATE KEY');
    // A root that is no CA, or has expired, is named too.
    const noRoots = appleIapChecks(configOf({ ...good, rootCertificates: [] }), new Date()).filter(
      (c) => !c.ok,
    );
    expect(noRoots.map((c) => c.detail)).toContain('none configured');
    const later = appleIapChecks(configOf(good), new Date(Date.now() + 100 * 365 * 86_400_000)).filter(
      (c) => !c.ok,
    );
    expect(later.map((c) => c.detail).join()).toMatch(/expired on/);
  });

  it('vk-pay sandbox starts the App Store emulator beside the others', async () => {
    const sandboxes = await startSandboxes({
      host: '127.0.0.1',
      wxpayPort: 0,
      alipayPort: 0,
      appleiapPort: 0,
      timeFactor: 1,
    });
    try {
      const root = await fetch(`${sandboxes.appleiap.controlUrl}/root-certificate`);
      expect(root.status).toBe(200);
      expect(await root.text()).toContain('BEGIN CERTIFICATE');
      const receipt = await fetch(`${sandboxes.appleiap.sandboxUrl}/verifyReceipt`, {
        method: 'POST',
        body: '{}',
      });
      expect(await receipt.json()).toEqual({ status: 21002 });
    } finally {
      await sandboxes.close();
    }
  });
});
