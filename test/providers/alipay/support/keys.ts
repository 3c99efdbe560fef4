/**
 * Test keys and a private test "Ant" CA, generated at run time with node:crypto and @peculiar/x509.
 * Nothing here is copied from an SDK.
 */
import { generateKeyPairSync, type KeyObject, KeyObject as NodeKeyObject, webcrypto } from 'node:crypto';
import { loadX509 } from '../../../../src/core/x509.ts';

export interface RsaPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** PKCS#8 */
  privatePem: string;
  /** PKCS#1, the format Alipay's key tool can also give. */
  privatePkcs1Pem: string;
  publicPem: string;
  /** The bare base64 SPKI that Alipay's console shows. */
  publicBase64: string;
}

export function rsaPair(): RsaPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return {
    privateKey,
    publicKey,
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    privatePkcs1Pem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    publicPem,
    publicBase64: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
  };
}

export { loadX509 };

const rsa = (hash: 'SHA-1' | 'SHA-256') => ({
  name: 'RSASSA-PKCS1-v1_5',
  hash,
  publicExponent: new Uint8Array([1, 0, 1]),
  modulusLength: 2048,
});
const ecdsa = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

export interface IssuedCert {
  pem: string;
  /** Serial as hex, as written into the certificate. */
  serialHex: string;
  /** Issuer attributes in DER order, e.g. [['C','CN'],['O','..'],...]. */
  issuer: Array<[string, string]>;
  privateKey: KeyObject;
  /** For signing children. */
  cryptoKeys: webcrypto.CryptoKeyPair;
  name: string;
  /** The subject's attributes, i.e. the issuer of the certificates this one signs. */
  issuerOf: Array<[string, string]>;
}

const dn = (attributes: Array<[string, string]>) => attributes.map(([k, v]) => `${k}=${v}`).join(', ');

async function makeCert(options: {
  subject: Array<[string, string]>;
  serialHex: string;
  algorithm: 'sha256rsa' | 'sha1rsa' | 'ecdsa';
  issuer?: IssuedCert;
  /** Key type of the subject, when it differs from how it is signed. */
  subjectKey?: 'rsa' | 'ecdsa';
}): Promise<IssuedCert> {
  const x509 = await loadX509();
  const signAlg =
    options.algorithm === 'ecdsa' ? ecdsa : rsa(options.algorithm === 'sha1rsa' ? 'SHA-1' : 'SHA-256');
  const subjectAlg =
    (options.subjectKey ?? (options.algorithm === 'ecdsa' ? 'ecdsa' : 'rsa')) === 'ecdsa'
      ? ecdsa
      : rsa('SHA-256');
  const keys = (await webcrypto.subtle.generateKey(subjectAlg, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const name = dn(options.subject);
  const common = {
    serialNumber: options.serialHex,
    notBefore: new Date(Date.now() - 86_400_000),
    notAfter: new Date(Date.now() + 365 * 86_400_000),
    signingAlgorithm: signAlg,
  };
  const certificate = options.issuer
    ? await x509.X509CertificateGenerator.create({
        ...common,
        subject: name,
        issuer: options.issuer.name,
        publicKey: keys.publicKey,
        signingKey: options.issuer.cryptoKeys.privateKey,
      })
    : await x509.X509CertificateGenerator.createSelfSigned({ ...common, name, keys });
  return {
    pem: certificate.toString('pem'),
    serialHex: options.serialHex,
    issuer: options.issuer ? options.issuer.issuerOf : options.subject,
    privateKey: NodeKeyObject.from(keys.privateKey as unknown as webcrypto.CryptoKey),
    cryptoKeys: keys,
    name,
    issuerOf: options.subject,
  };
}

export interface TestAntCa {
  /** The bundle Alipay calls alipayRootCert.crt: SM2-like(ECDSA), RSA sha256, ECDSA, RSA sha1. */
  rootBundle: string;
  rsaRoots: IssuedCert[];
  appCert: IssuedCert;
  alipayCert: IssuedCert;
}

const antName = (cn: string): Array<[string, string]> => [
  ['C', 'CN'],
  ['O', 'VK Test Ant Financial'],
  ['OU', 'Certification Authority'],
  ['CN', cn],
];

/** A small private CA shaped like Alipay's: two RSA roots, two non-RSA roots, an app and an Alipay cert. */
export async function testAntCa(): Promise<TestAntCa> {
  const ecRoot = await makeCert({
    subject: antName('VK Test ROOTCA'),
    serialHex: '0a1b2c',
    algorithm: 'ecdsa',
  });
  const rsaRoot = await makeCert({
    subject: antName('VK Test CA R1'),
    serialHex: '1fcfa18d6a480d11',
    algorithm: 'sha256rsa',
  });
  const ecRoot2 = await makeCert({ subject: antName('VK Test CA E1'), serialHex: '3e', algorithm: 'ecdsa' });
  const sha1Root = await makeCert({
    subject: [
      ['C', 'CN'],
      ['O', 'VK Test iTrus'],
      ['CN', 'VK Test Class 2 Root CA - G3'],
    ],
    serialHex: '10c764e9aa5e4c0b4f7c2d3a0ab3960a',
    algorithm: 'sha1rsa',
  });
  const class1 = await makeCert({
    subject: antName('VK Test Class 1 R1'),
    serialHex: '7a01',
    algorithm: 'sha256rsa',
    issuer: rsaRoot,
  });
  const appCert = await makeCert({
    subject: [
      ['C', 'CN'],
      ['O', 'VK Test Merchant'],
      ['OU', 'Alipay'],
      ['CN', '2021000000000000'],
    ],
    serialHex: '2020051862039d4090897ba4d51c2126',
    algorithm: 'sha256rsa',
    issuer: class1,
  });
  const alipayCert = await makeCert({
    subject: [
      ['C', 'CN'],
      ['O', 'VK Test Alipay'],
      ['OU', 'Alipay'],
      ['CN', 'Alipay RSA2'],
    ],
    serialHex: '20200514e63c2fe04d538716fe21358b',
    algorithm: 'sha256rsa',
    issuer: class1,
  });
  return {
    rootBundle: [ecRoot, rsaRoot, ecRoot2, sha1Root].map((c) => c.pem).join('\n'),
    rsaRoots: [rsaRoot, sha1Root],
    appCert,
    alipayCert,
  };
}
