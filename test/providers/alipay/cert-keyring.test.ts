import { generateKeyPairSync } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { PayError } from '../../../src/core/errors.ts';
import { AlipayKeyring } from '../../../src/providers/alipay/cert-keyring.ts';
import { certificateSn, publicKeyOfCertificate } from '../../../src/providers/alipay/cert-sn.ts';
import { createRuntime } from '../../../src/sandbox/alipay/runtime.ts';
import { AlipayTestCa } from '../../../src/sandbox/alipay/test-ca.ts';

describe('the Alipay certificate keyring', () => {
  let ca: AlipayTestCa;
  let otherCa: AlipayTestCa;
  let configuredPem: string;
  let renewedPem: string;
  const keyPair = () => generateKeyPairSync('rsa', { modulusLength: 2048 });

  beforeAll(async () => {
    const runtime = createRuntime({});
    ca = await AlipayTestCa.create(runtime.random, () => Date.now());
    otherCa = await AlipayTestCa.create(runtime.random, () => Date.now());
    configuredPem = await ca.issue(keyPair().publicKey, 'Alipay sandbox RSA2 public key');
    renewedPem = await ca.issue(keyPair().publicKey, 'Alipay sandbox RSA2 public key');
  });

  const keyring = (now = Date.now) =>
    new AlipayKeyring(
      { sn: certificateSn(configuredPem), key: publicKeyOfCertificate(configuredPem) },
      ca.rootBundlePem,
      now,
    );
  const refusal = (work: () => unknown) => {
    try {
      work();
    } catch (error) {
      expect(error).toBeInstanceOf(PayError);
      return (error as PayError).message;
    }
    throw new Error('expected a refusal');
  };

  it('learns a renewed certificate once, however many answers name it at the same time', async () => {
    const ring = keyring();
    const sn = certificateSn(renewedPem);
    let downloads = 0;
    const download = async () => {
      downloads += 1;
      await new Promise((resolve) => setTimeout(resolve, 20));
      return renewedPem;
    };
    const [a, b] = await Promise.all([ring.learn(sn, download), ring.learn(sn, download)]);
    expect(downloads).toBe(1);
    expect(a.export({ type: 'spki', format: 'pem' })).toBe(
      publicKeyOfCertificate(renewedPem).export({ type: 'spki', format: 'pem' }),
    );
    expect(b).toBe(a);
    expect(ring.keyFor(sn)).toBe(a);
    expect(ring.keys()).toHaveLength(2);
    expect(ring.keys()[0]!.export({ type: 'spki', format: 'pem' })).toBe(
      publicKeyOfCertificate(configuredPem).export({ type: 'spki', format: 'pem' }),
    );
  });

  it('trusts only what the configured root signed, under the SN asked for, while valid', async () => {
    const ring = keyring();
    const foreign = await otherCa.issue(keyPair().publicKey, 'Alipay sandbox RSA2 public key');
    expect(refusal(() => ring.trust(foreign, certificateSn(foreign)))).toContain(
      'does not chain to the configured Alipay root',
    );
    expect(refusal(() => ring.trust(renewedPem, certificateSn(configuredPem)))).toContain(
      `is not certificate ${certificateSn(configuredPem)}`,
    );
    const tenYearsOn = keyring(() => Date.now() + 10 * 365 * 86400_000);
    expect(refusal(() => tenYearsOn.trust(renewedPem, certificateSn(renewedPem)))).toContain(
      'is not valid now',
    );
    expect(refusal(() => ring.trust('not a certificate', 'x'))).toContain('holds no certificate');
  });

  it('a failed download leaves nothing learnt, and a later answer may try again', async () => {
    const ring = keyring();
    const sn = certificateSn(renewedPem);
    await expect(ring.learn(sn, async () => Promise.reject(new Error('gateway down')))).rejects.toThrow(
      'gateway down',
    );
    expect(ring.keyFor(sn)).toBeUndefined();
    await expect(ring.learn(sn, async () => renewedPem)).resolves.toBeDefined();
  });
});
