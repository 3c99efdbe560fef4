/**
 * The gateway's own signing keys, all generated at runtime: a WeChat Pay public key per merchant
 * (public-key mode, id `PUB_KEY_ID_...`) and platform certificates issued by a small test CA
 * (certificate mode). No key material is ever read from disk or copied from elsewhere.
 */
import { createPrivateKey, generateKeyPairSync, KeyObject, webcrypto } from 'node:crypto';
import { loadX509 } from '../../core/x509.ts';
import { type RandomSource, randomDigits, randomHexUpper } from './runtime.ts';

/** One key the gateway can sign responses and notifications with, named by its Wechatpay-Serial. */
export interface GatewaySigningKey {
  kind: 'publicKey' | 'certificate';
  /** `PUB_KEY_ID_...` or the 40-hex platform certificate serial. */
  serial: string;
  privateKey: KeyObject;
  publicKeyPem: string;
}

export interface PlatformCertificate extends GatewaySigningKey {
  kind: 'certificate';
  certificatePem: string;
  notBefore: Date;
  notAfter: Date;
}

const RSA_ALGORITHM = {
  name: 'RSASSA-PKCS1-v1_5',
  hash: 'SHA-256',
  publicExponent: new Uint8Array([1, 0, 1]),
  modulusLength: 2048,
};

/** WeChat public key ids are `PUB_KEY_ID_` and 32 digits; we embed the mchid to keep them unique. */
export function createPublicKeySigningKey(mchid: string, random: RandomSource): GatewaySigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const digits = `0114${mchid.replace(/\D/g, '').slice(0, 12).padStart(12, '0')}`;
  return {
    kind: 'publicKey',
    serial: `PUB_KEY_ID_${digits}${randomDigits(random, 32 - digits.length)}`,
    privateKey,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** A positive 40-hex serial: the first digit stays below 8 so DER needs no sign byte. */
function certificateSerial(random: RandomSource): string {
  const hex = randomHexUpper(random, 40);
  return `${(Number.parseInt(hex[0] ?? '1', 16) % 7) + 1}${hex.slice(1)}`;
}

/** What the state file keeps of the test CA: its certificate and private key, both PEM. */
export interface AuthorityState {
  certificatePem: string;
  privateKeyPem: string;
}

const CA_NAME = 'CN=VK-Pay Sandbox WeChat Pay Test CA, O=VK-Pay Sandbox, C=CN';

/** The test CA that issues platform certificates, so clients can check a chain if they want to. */
export class TestCertificateAuthority {
  private constructor(
    readonly certificatePem: string,
    private readonly signingKey: webcrypto.CryptoKey,
    private readonly name: string,
  ) {}

  /** The CA again from the state file, to issue more certificates under the same root. */
  static async fromState(state: AuthorityState): Promise<TestCertificateAuthority> {
    const der = createPrivateKey(state.privateKeyPem).export({ type: 'pkcs8', format: 'der' });
    const key = await webcrypto.subtle.importKey('pkcs8', der, RSA_ALGORITHM, true, ['sign']);
    return new TestCertificateAuthority(state.certificatePem, key, CA_NAME);
  }

  toState(): AuthorityState {
    const privateKeyPem = KeyObject.from(this.signingKey).export({ type: 'pkcs8', format: 'pem' }).toString();
    return { certificatePem: this.certificatePem, privateKeyPem };
  }

  static async create(random: RandomSource, now: Date): Promise<TestCertificateAuthority> {
    const x509 = await loadX509();
    const keys = (await webcrypto.subtle.generateKey(RSA_ALGORITHM, true, [
      'sign',
      'verify',
    ])) as webcrypto.CryptoKeyPair;
    const name = CA_NAME;
    const certificate = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: certificateSerial(random),
      name,
      notBefore: new Date(now.getTime() - 3600_000),
      notAfter: new Date(now.getTime() + 10 * 365 * 86400_000),
      keys,
      signingAlgorithm: RSA_ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ],
    });
    return new TestCertificateAuthority(certificate.toString('pem'), keys.privateKey, name);
  }

  /** Issues a platform certificate valid from an hour before `now` for `validDays`. */
  async issuePlatformCertificate(
    random: RandomSource,
    now: Date,
    validDays = 5 * 365,
  ): Promise<PlatformCertificate> {
    const x509 = await loadX509();
    const keys = (await webcrypto.subtle.generateKey(RSA_ALGORITHM, true, [
      'sign',
      'verify',
    ])) as webcrypto.CryptoKeyPair;
    const serial = certificateSerial(random);
    const notBefore = new Date(now.getTime() - 3600_000);
    const notAfter = new Date(now.getTime() + validDays * 86400_000);
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: serial,
      subject: 'CN=Tenpay.com Root CA sandbox platform, O=VK-Pay Sandbox, C=CN',
      issuer: this.name,
      notBefore,
      notAfter,
      publicKey: keys.publicKey,
      signingKey: this.signingKey,
      signingAlgorithm: RSA_ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation,
          true,
        ),
      ],
    });
    const privateKey = KeyObject.from(keys.privateKey);
    const publicKey = KeyObject.from(keys.publicKey);
    return {
      kind: 'certificate',
      serial,
      privateKey,
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      certificatePem: certificate.toString('pem'),
      notBefore,
      notAfter,
    };
  }
}
