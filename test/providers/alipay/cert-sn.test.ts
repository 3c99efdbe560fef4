/**
 * Certificate SNs (C.5) on a private test CA built here: app and Alipay cert SN = md5(reversed
 * issuer DN + decimal serial); root SN = the RSA-signed roots only, joined by "_" in file order.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { PayError } from '../../../src/core/errors.ts';
import {
  certificateSn,
  publicKeyOfCertificate,
  rootCertificateSn,
} from '../../../src/providers/alipay/cert-sn.ts';
import { type TestAntCa, testAntCa } from './support/keys.ts';
import { expectedSn } from './support/signer.ts';

let ca: TestAntCa;
beforeAll(async () => {
  ca = await testAntCa();
});

describe('alipay certificate SN', () => {
  it('is md5 of the issuer DN in CN-first order plus the decimal serial', () => {
    const sn = certificateSn(ca.appCert.pem);
    expect(sn).toMatch(/^[0-9a-f]{32}$/);
    expect(sn).toBe(expectedSn(ca.appCert.issuer, ca.appCert.serialHex));
    // Spelled out once, so the expected form is visible: CN first, no spaces after commas.
    expect(ca.appCert.issuer.map(([k]) => k)).toEqual(['C', 'O', 'OU', 'CN']);
    expect(BigInt('0x2020051862039d4090897ba4d51c2126').toString(10)).toBe(
      '42701552708448241360226107228231049510',
    );
  });

  it('differs between the app and the Alipay certificate', () => {
    expect(certificateSn(ca.alipayCert.pem)).toBe(expectedSn(ca.alipayCert.issuer, ca.alipayCert.serialHex));
    expect(certificateSn(ca.alipayCert.pem)).not.toBe(certificateSn(ca.appCert.pem));
  });

  it('root SN keeps only RSA-signed roots (sha256 and sha1), joined by "_" in file order', () => {
    const [r1, g3] = ca.rsaRoots;
    expect(rootCertificateSn(ca.rootBundle)).toBe(
      `${expectedSn(r1!.issuer, r1!.serialHex)}_${expectedSn(g3!.issuer, g3!.serialHex)}`,
    );
  });

  it('refuses a bundle where one certificate is expected, and a bundle without RSA roots', () => {
    expect(() => certificateSn(ca.rootBundle)).toThrow(PayError);
    expect(() => certificateSn('not a certificate')).toThrow(PayError);
    const ecOnly = ca.rootBundle.split(/(?<=-----END CERTIFICATE-----)/)[0]!;
    expect(() => rootCertificateSn(ecOnly)).toThrow(/no RSA-signed/);
  });

  it('reads the Alipay public key from its certificate', () => {
    const key = publicKeyOfCertificate(ca.alipayCert.pem);
    expect(key.asymmetricKeyType).toBe('rsa');
  });
});
