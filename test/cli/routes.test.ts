import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { generateKeys } from '../../src/cli/keys.ts';
import { createVkPay } from '../../src/vk-pay.ts';
import { runCommand } from './run.ts';

const dir = mkdtempSync(join(tmpdir(), 'vkpay-routes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A merchant with two WeChat Pay accounts and a route sending 10 % of payers to the second. */
async function configWithRoute(): Promise<string> {
  const keys = join(dir, 'keys');
  await generateKeys(keys);
  const gateway = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(
    join(keys, 'wechatpay_public_key.pem'),
    gateway.publicKey.export({ type: 'spki', format: 'pem' }),
  );
  const example = JSON.parse(readFileSync(join(keys, 'vk-pay.config.example.json'), 'utf8'));
  const wxpay = {
    ...example.wxpay[0],
    wechatpayPublicKey: { ...example.wxpay[0].wechatpayPublicKey, id: 'PUB_KEY_ID_01' },
  };
  const config = {
    env: 'development',
    apps: example.apps,
    dataDir: join(dir, 'data'),
    wxpay: [wxpay, { ...wxpay, account: 'pubkey', mchId: '1900000110' }],
    routes: {
      shop1: [
        { id: 'wx-pubkey', match: { provider: 'wxpay' }, stable: 'default', canary: 'pubkey', share: 10 },
      ],
    },
  };
  const path = join(keys, 'vk-pay.config.json');
  writeFileSync(path, JSON.stringify(config));
  return path;
}

describe('vk-pay routes', () => {
  it("lists a merchant's routes, sets a share, rolls back and clears the share on the service's store, each change recorded", async () => {
    const env = { VKPAY_CONFIG: await configWithRoute(), VKPAY_LOG_LEVEL: 'warn' };
    const routes = (...args: string[]) => runCommand(['routes', ...args], env);

    const listed = await routes('list', 'shop1');
    expect(listed, listed.stderr).toMatchObject({ code: 0 });
    expect(listed.stdout).toBe('wx-pubkey\tshare=10\tstable=default\tcanary=pubkey\tmatch=provider=wxpay\n');

    const badShare = await routes('set-share', 'shop1', 'wx-pubkey', '101');
    expect(badShare.code).toBe(2);
    expect(badShare.stderr).toContain('share must be a percent from 0 to 100');

    const set = await routes('set-share', 'shop1', 'wx-pubkey', '50');
    expect(set, set.stderr).toMatchObject({ code: 0 });
    expect(set.stdout).toContain('shop1 route wx-pubkey: share 10 -> 50');
    expect((await routes('set-share', 'shop1', 'nope', '5')).code).toBe(1);

    const rolledBack = await routes('rollback', 'shop1', 'wx-pubkey');
    expect(rolledBack, rolledBack.stderr).toMatchObject({ code: 0 });
    expect(rolledBack.stdout).toContain('share 50 -> 0; canary orders closed 0');
    expect((await routes('list', 'shop1')).stdout).toBe(
      'wx-pubkey\tshare=0 (file 10)\tstable=default\tcanary=pubkey\tmatch=provider=wxpay\n',
    );

    const cleared = await routes('clear-share', 'shop1', 'wx-pubkey');
    expect(cleared, cleared.stderr).toMatchObject({ code: 0 });
    expect(cleared.stdout).toContain("share 0 -> 10 (the config file's)");

    const vkPay = await createVkPay({ dataDir: join(dir, 'data'), logger: pino({ level: 'silent' }) });
    try {
      const changes = await vkPay.store.db
        .selectFrom('route_override_changes')
        .select(['route_id', 'share_before', 'share_after', 'changed_by'])
        .orderBy('id')
        .execute();
      expect(changes).toMatchObject([
        {
          route_id: 'wx-pubkey',
          share_before: null,
          share_after: 50,
          changed_by: expect.stringMatching(/^cli/),
        },
        {
          route_id: 'wx-pubkey',
          share_before: 50,
          share_after: 0,
          changed_by: expect.stringMatching(/^cli/),
        },
        {
          route_id: 'wx-pubkey',
          share_before: 0,
          share_after: null,
          changed_by: expect.stringMatching(/^cli/),
        },
      ]);
      expect(await vkPay.store.db.selectFrom('route_overrides').selectAll().execute()).toEqual([]);
    } finally {
      await vkPay.close();
    }
  }, 300_000);
});
