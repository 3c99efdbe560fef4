import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Check, runDoctor } from '../../src/cli/doctor.ts';
import { generateKeys } from '../../src/cli/keys.ts';
import { loadServiceConfig } from '../../src/config/service-config.ts';
import { sealingKeyId } from '../../src/service/sealing.ts';

const dir = mkdtempSync(join(tmpdir(), 'vkpay-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('vk-pay keys and doctor', () => {
  it('writes development keys with private files readable by the owner only, and never overwrites', async () => {
    const generated = await generateKeys(join(dir, 'keys'));
    expect(generated.wxpaySerialNo).toMatch(/^[0-9A-F]{40}$/);
    expect(statSync(join(dir, 'keys', 'wxpay_apiclient_key.pem')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, 'keys', 'wxpay_apiclient_cert.pem'), 'utf8')).toContain(
      'BEGIN CERTIFICATE',
    );
    await expect(generateKeys(join(dir, 'keys'))).rejects.toThrow(/exists/);
  });

  it('passes a configuration built on those keys, and names what is wrong in a broken one', async () => {
    const keys = join(dir, 'keys');
    const gateway = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(
      join(keys, 'wechatpay_public_key.pem'),
      gateway.publicKey.export({ type: 'spki', format: 'pem' }),
    );
    const base = JSON.parse(readFileSync(join(keys, 'vk-pay.config.example.json'), 'utf8'));
    base.wxpay[0].wechatpayPublicKey.id = 'PUB_KEY_ID_0114232134912410000000000000000000';
    base.alipay[0].appId = '2021000000000001';
    base.alipay[0].alipayPublicKey = gateway.publicKey.export({ type: 'spki', format: 'pem' });
    base.dataDir = join(dir, 'data');
    const good = join(keys, 'good.json');
    writeFileSync(good, JSON.stringify(base));
    const checks = await runDoctor(loadServiceConfig({ env: {}, configPath: good }));
    expect(
      checks.filter((c) => !c.ok),
      JSON.stringify(checks),
    ).toEqual([]);
    expect(checks.map((c) => c.what)).toEqual(
      expect.arrayContaining([
        'wxpay merchant shop1: keys and settings parse',
        'database reachable and migrated',
        'cache reachable',
      ]),
    );

    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(keys, 'not_mine.pem'), other.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    base.tls = {
      cert: `file:${join(keys, 'wxpay_apiclient_cert.pem')}`,
      key: `file:${join(keys, 'not_mine.pem')}`,
    };
    base.wxpay[0].apiV3Key = 'file:api_app.secret'; // 64 characters: not a 32-byte APIv3 key
    const broken = join(keys, 'broken.json');
    writeFileSync(broken, JSON.stringify(base));
    const failed = (await runDoctor(loadServiceConfig({ env: {}, configPath: broken }))).filter((c) => !c.ok);
    expect(failed.map((c) => c.what)).toEqual([
      'wxpay merchant shop1: keys and settings parse',
      'HTTPS certificate',
    ]);
    expect(failed[0]!.detail).toContain('apiV3Key');
    expect(failed[1]!.detail).toBe('does not match the private key');
    expect(JSON.stringify(failed)).not.toContain(readFileSync(join(keys, 'api_app.secret'), 'utf8'));
  });

  it('checks the field encryption key: it seals custom.user_info and opens it again', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'vkpay-doctor-'));
    const key = Buffer.alloc(32, 5);
    const config = loadServiceConfig({
      env: { ENCRYPTION_KEY: key.toString('hex'), VKPAY_DATA_DIR: 'memory' },
      cwd,
    });
    const encryption = (checks: Check[]) => checks.find((c) => c.what.includes('field encryption'));
    expect(encryption(await runDoctor(config))).toEqual({
      ok: true,
      what: 'field encryption of custom.user_info',
      detail: `AES-256-GCM, seals with ${sealingKeyId(key)}; opens ${sealingKeyId(key)}`,
    });
    const short = {
      ...config,
      sealing: { ...config.sealing!, keys: { [sealingKeyId(key)]: Buffer.alloc(16) } },
    };
    expect(encryption(await runDoctor(short))).toMatchObject({
      ok: false,
      detail: expect.stringContaining('32 bytes'),
    });
    const off = loadServiceConfig({ env: { VKPAY_DATA_DIR: 'memory' }, cwd });
    expect(encryption(await runDoctor(off))).toEqual({
      ok: true,
      what: 'field encryption',
      detail: 'off: custom is stored as sent',
    });
  });
});
