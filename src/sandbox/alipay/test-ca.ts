/**
 * A small "Ant" test CA generated at runtime for certificate mode: an RSA root that issues the
 * app and Alipay public-key certificates, plus an ECDSA root in the bundle, as the real
 * alipayRootCert.crt carries non-RSA roots that the root SN must skip.
 */
import { createPrivateKey, KeyObject, webcrypto } from 'node:crypto';
import { loadX509 } from '../../core/x509.ts';
import { type RandomSource, randomDigits } from './runtime.ts';

const RSA_ALGORITHM = {
  name: 'RSASSA-PKCS1-v1_5',
  hash: 'SHA-256',
  publicExponent: new Uint8Array([1, 0, 1]),
  modulusLength: 2048,
};
const EC_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

const RSA_ROOT_NAME =
  'C=CN, O=VK-Pay Sandbox, OU=Certification Authority, CN=VK-Pay Sandbox Alipay Root CA R1';
const EC_ROOT_NAME =
  'C=CN, O=VK-Pay Sandbox, OU=Certification Authority, CN=VK-Pay Sandbox Alipay Root CA E1';
// Written C first so that the DER order, reversed for the SN, reads CN first as Ant's does.
const YEAR_MS = 365 * 86400_000;

/** A positive decimal-friendly serial: a leading 1-7 keeps DER free of a sign byte. */
function serialHex(random: RandomSource): string {
  const digits = randomDigits(random, 24);
  return BigInt(`1${digits}`).toString(16);
}

/** What the state file keeps of the CA: both roots and the RSA root's private key, PEM. */
export interface AlipayCaState {
  rsaRootPem: string;
  ecRootPem: string;
  rsaRootKeyPem: string;
}

export class AlipayTestCa {
  private constructor(
    private rootKey: webcrypto.CryptoKey,
    private rsaRootPem: string,
    private ecRootPem: string,
    private readonly random: RandomSource,
    private readonly now: () => number,
  ) {}

  toState(): AlipayCaState {
    const rsaRootKeyPem = KeyObject.from(this.rootKey).export({ type: 'pkcs8', format: 'pem' }).toString();
    return { rsaRootPem: this.rsaRootPem, ecRootPem: this.ecRootPem, rsaRootKeyPem };
  }

  /** Becomes the CA the state file kept, so certificates issued before a restart still chain to it. */
  async restore(state: AlipayCaState): Promise<void> {
    const der = createPrivateKey(state.rsaRootKeyPem).export({ type: 'pkcs8', format: 'der' });
    this.rootKey = await webcrypto.subtle.importKey('pkcs8', der, RSA_ALGORITHM, true, ['sign']);
    this.rsaRootPem = state.rsaRootPem;
    this.ecRootPem = state.ecRootPem;
  }

  static async create(random: RandomSource, now: () => number): Promise<AlipayTestCa> {
    const x509 = await loadX509();
    const selfSigned = async (name: string, algorithm: typeof RSA_ALGORITHM | typeof EC_ALGORITHM) => {
      const keys = (await webcrypto.subtle.generateKey(algorithm, true, [
        'sign',
        'verify',
      ])) as webcrypto.CryptoKeyPair;
      const certificate = await x509.X509CertificateGenerator.createSelfSigned({
        serialNumber: serialHex(random),
        name,
        notBefore: new Date(now() - 3600_000),
        notAfter: new Date(now() + 20 * YEAR_MS),
        keys,
        signingAlgorithm: algorithm,
        extensions: [
          new x509.BasicConstraintsExtension(true, 1, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        ],
      });
      return { keys, pem: certificate.toString('pem') };
    };
    const ecRoot = await selfSigned(EC_ROOT_NAME, EC_ALGORITHM);
    const rsaRoot = await selfSigned(RSA_ROOT_NAME, RSA_ALGORITHM);
    return new AlipayTestCa(rsaRoot.keys.privateKey, rsaRoot.pem, ecRoot.pem, random, now);
  }

  /** The alipayRootCert.crt equivalent: the ECDSA root first, then the RSA root. */
  get rootBundlePem(): string {
    return `${this.ecRootPem.trim()}\n${this.rsaRootPem.trim()}\n`;
  }

  /** Issues a public-key certificate (app or Alipay) for `publicKey`, signed by the RSA root. */
  async issue(publicKey: KeyObject, commonName: string, validYears = 5): Promise<string> {
    const x509 = await loadX509();
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const subjectKey = await webcrypto.subtle.importKey('spki', spki, RSA_ALGORITHM, true, ['verify']);
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: serialHex(this.random),
      subject: `C=CN, O=VK-Pay Sandbox, OU=Alipay, CN=${commonName}`,
      issuer: RSA_ROOT_NAME,
      notBefore: new Date(this.now() - 3600_000),
      notAfter: new Date(this.now() + validYears * YEAR_MS),
      publicKey: subjectKey,
      signingKey: this.rootKey,
      signingAlgorithm: RSA_ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation,
          true,
        ),
      ],
    });
    return certificate.toString('pem');
  }
}
