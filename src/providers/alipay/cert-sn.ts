/**
 * Alipay certificate SNs (reference/protocols.md C.5): md5_hex(issuer DN reversed as
 * "CN=..,OU=..,O=..,C=.." + decimal serial). The root SN joins the SNs of the bundle's RSA-signed
 * roots with "_", skipping the SM2 and ECDSA roots, in file order.
 */
import { createHash, type KeyObject, X509Certificate } from 'node:crypto';
import { PayError } from '../../core/errors.ts';
import { type CertificateFields, pemCertificates, readCertificate } from './der.ts';

/** Short names as Alipay's SDKs print them; anything else keeps its dotted OID. */
const SHORT_NAMES: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '1.2.840.113549.1.9.1': 'E',
};

/** sha1WithRSA, sha256WithRSA and the rest of PKCS#1. */
const RSA_SIGNATURE_PREFIX = '1.2.840.113549.1.1';

function certError(message: string): PayError {
  return new PayError(40003, { message });
}

/** The SN of one parsed certificate. */
export function snOf(fields: CertificateFields): string {
  const issuer = fields.issuer
    .map((attribute) => `${SHORT_NAMES[attribute.oid] ?? attribute.oid}=${attribute.value}`)
    .reverse()
    .join(',');
  const serial = BigInt(`0x${fields.serialHex || '0'}`).toString(10);
  return createHash('md5')
    .update(issuer + serial, 'utf8')
    .digest('hex');
}

function single(pem: string): Buffer {
  const [der, ...rest] = pemCertificates(pem);
  if (!der) throw certError('no PEM certificate found');
  if (rest.length > 0) throw certError('expected one certificate, found a bundle');
  return der;
}

/** app_cert_sn or alipay_cert_sn of a single PEM certificate. */
export function certificateSn(pem: string): string {
  return snOf(readCertificate(single(pem)));
}

/** alipay_root_cert_sn of a root bundle. */
export function rootCertificateSn(bundlePem: string): string {
  const roots = pemCertificates(bundlePem).map((der) => readCertificate(der));
  const sns = roots.filter((root) => root.signatureAlgorithmOid.startsWith(RSA_SIGNATURE_PREFIX)).map(snOf);
  if (sns.length === 0) throw certError('the root bundle holds no RSA-signed certificate');
  return sns.join('_');
}

/** The Alipay public key inside its public-key certificate. */
export function publicKeyOfCertificate(pem: string): KeyObject {
  return new X509Certificate(single(pem)).publicKey;
}
