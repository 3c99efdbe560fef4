/**
 * Certificate serial numbers as Alipay computes them (protocols.md C.5): md5 of the issuer DN
 * (RDNs reversed, `SHORT=value` joined by commas) followed by the serial in decimal; the root SN
 * joins the SNs of the RSA-signed certificates of the root bundle with `_`, in file order.
 */
import { createHash, X509Certificate } from 'node:crypto';

const RSA_SIGNATURE_OID_PREFIX = '1.2.840.113549.1.1';

export function splitPemBundle(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

export function certificateSn(pem: string): string {
  const certificate = new X509Certificate(pem);
  const issuer = certificate.issuer.split('\n').reverse().join(',');
  const serial = BigInt(`0x${certificate.serialNumber}`).toString(10);
  return createHash('md5')
    .update(issuer + serial, 'utf8')
    .digest('hex');
}

export function rootCertificateSn(bundle: string): string {
  return splitPemBundle(bundle)
    .filter((pem) => signatureAlgorithmOid(new X509Certificate(pem).raw).startsWith(RSA_SIGNATURE_OID_PREFIX))
    .map(certificateSn)
    .join('_');
}

/** Reads one DER header: returns where the content starts and how long it is. */
function derElement(der: Buffer, offset: number): { contentStart: number; length: number } {
  const first = der[offset + 1] ?? 0;
  if (first < 0x80) return { contentStart: offset + 2, length: first };
  const lengthBytes = first & 0x7f;
  let length = 0;
  for (let i = 0; i < lengthBytes; i++) length = length * 256 + (der[offset + 2 + i] ?? 0);
  return { contentStart: offset + 2 + lengthBytes, length };
}

/**
 * Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm SEQUENCE { OID, ... }, signature }.
 * Node's X509Certificate does not expose the algorithm, and SM2/ECDSA roots must be skipped by it.
 */
export function signatureAlgorithmOid(der: Buffer): string {
  const certificate = derElement(der, 0);
  const tbs = derElement(der, certificate.contentStart);
  const algorithm = derElement(der, tbs.contentStart + tbs.length);
  const oid = derElement(der, algorithm.contentStart);
  const bytes = der.subarray(oid.contentStart, oid.contentStart + oid.length);
  const parts = [Math.floor((bytes[0] ?? 0) / 40), (bytes[0] ?? 0) % 40];
  let value = 0;
  for (const byte of bytes.subarray(1)) {
    value = value * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      parts.push(value);
      value = 0;
    }
  }
  return parts.join('.');
}
