/**
 * Test keys, generated at run time: RSA pairs for the merchant and the WeChat Pay side, and X.509
 * platform certificates from @peculiar/x509. Nothing here is copied from an SDK.
 */
import { generateKeyPairSync, type KeyObject, KeyObject as NodeKeyObject, webcrypto } from 'node:crypto';
import { loadX509 } from '../../../../src/core/x509.ts';

export interface RsaPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
  privatePem: string;
  publicPem: string;
}

export function rsaPair(): RsaPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privateKey,
    publicKey,
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export interface PlatformCert {
  serial: string;
  pem: string;
  privateKey: KeyObject;
}

const RSA_ALGORITHM = {
  name: 'RSASSA-PKCS1-v1_5',
  hash: 'SHA-256',
  publicExponent: new Uint8Array([1, 0, 1]),
  modulusLength: 2048,
};

/** A self-signed platform certificate with a 40-hex serial (first digit 1-7 keeps it positive). */
export async function platformCertificate(
  serial: string,
  validity: { notBefore?: Date; notAfter?: Date } = {},
): Promise<PlatformCert> {
  const x509 = await loadX509();
  const keys = (await webcrypto.subtle.generateKey(RSA_ALGORITHM, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial,
    name: 'CN=Tenpay.com Root CA test, O=VK-Pay tests',
    notBefore: validity.notBefore ?? new Date(Date.now() - 86_400_000),
    notAfter: validity.notAfter ?? new Date(Date.now() + 5 * 365 * 86_400_000),
    signingAlgorithm: RSA_ALGORITHM,
    keys: keys as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]['keys'],
  });
  return {
    serial: serial.toUpperCase(),
    pem: certificate.toString('pem'),
    privateKey: NodeKeyObject.from(keys.privateKey as unknown as webcrypto.CryptoKey),
  };
}

export const randomSerial = (): string =>
  `${1 + Math.floor(Math.random() * 7)}${Array.from({ length: 39 }, () => '0123456789ABCDEF'[Math.floor(Math.random() * 16)]).join('')}`;
