import { createHash, X509Certificate } from 'node:crypto';
import { AlipaySdk } from 'alipay-sdk';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  certificateSn,
  rootCertificateSn,
  signatureAlgorithmOid,
  splitPemBundle,
} from '../../../src/sandbox/alipay/cert-sn.ts';
import { createRuntime } from '../../../src/sandbox/alipay/runtime.ts';
import { AlipayTestCa } from '../../../src/sandbox/alipay/test-ca.ts';
import { type AppKeys, generateAppKeys } from './helpers.ts';

describe('certificate SNs on the runtime test CA (protocols.md C.5)', () => {
  let ca: AlipayTestCa;
  let app: AppKeys;
  let appCert: string;
  let alipayCert: string;

  beforeAll(async () => {
    const runtime = createRuntime();
    ca = await AlipayTestCa.create(runtime.random, () => Date.now());
    app = generateAppKeys();
    appCert = await ca.issue(app.publicKey, 'appCertPublicKey_2021000000000001');
    alipayCert = await ca.issue(generateAppKeys().publicKey, 'Alipay');
  });

  it('computes md5(issuer DN reversed + decimal serial), CN first', () => {
    const certificate = new X509Certificate(appCert);
    const issuer = certificate.issuer.split('\n').reverse().join(',');
    expect(issuer).toBe(
      'CN=VK-Pay Sandbox Alipay Root CA R1,OU=Certification Authority,O=VK-Pay Sandbox,C=CN',
    );
    const decimal = BigInt(`0x${certificate.serialNumber}`).toString(10);
    expect(certificateSn(appCert)).toBe(
      createHash('md5')
        .update(issuer + decimal)
        .digest('hex'),
    );
    expect(certificate.publicKey.export({ type: 'spki', format: 'pem' })).toBe(app.publicKeyPem);
  });

  it('keeps only the RSA-signed roots of the bundle for the root SN', () => {
    const [ecRoot, rsaRoot] = splitPemBundle(ca.rootBundlePem);
    expect(signatureAlgorithmOid(new X509Certificate(ecRoot!).raw)).toBe('1.2.840.10045.4.3.2');
    expect(signatureAlgorithmOid(new X509Certificate(rsaRoot!).raw)).toBe('1.2.840.113549.1.1.11');
    expect(rootCertificateSn(ca.rootBundlePem)).toBe(certificateSn(rsaRoot!));
    const twoRsaRoots = `${rsaRoot}\n${ecRoot}\n${rsaRoot}`;
    expect(rootCertificateSn(twoRsaRoots)).toBe(`${certificateSn(rsaRoot!)}_${certificateSn(rsaRoot!)}`);
  });

  it('agrees with the SNs the official alipay-sdk computes from the same files', () => {
    const sdk = new AlipaySdk({
      appId: '2021000000000001',
      privateKey: app.privateKeyPem,
      appCertContent: appCert,
      alipayPublicCertContent: alipayCert,
      alipayRootCertContent: ca.rootBundlePem,
    });
    expect(sdk.config.appCertSn).toBe(certificateSn(appCert));
    expect(sdk.config.alipayCertSn).toBe(certificateSn(alipayCert));
    expect(sdk.config.alipayRootCertSn).toBe(rootCertificateSn(ca.rootBundlePem));
  });
});
