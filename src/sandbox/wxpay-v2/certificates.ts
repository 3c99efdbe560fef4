/**
 * The emulator's test CA: it issues the HTTPS server's certificate and each merchant's API client
 * certificate (CN = mch_id), which /secapi requires over mutual TLS. Made at start, never stored.
 */
import { KeyObject, randomBytes, webcrypto } from 'node:crypto';
import { loadX509 } from '../../core/x509.ts';

const RSA = {
  name: 'RSASSA-PKCS1-v1_5',
  hash: 'SHA-256',
  publicExponent: new Uint8Array([1, 0, 1]),
  modulusLength: 2048,
};
const CA_NAME = 'CN=VK-Pay Sandbox WeChat Pay v2 Test CA, O=VK-Pay Sandbox, C=CN';

export interface IssuedCertificate {
  cert: string;
  key: string;
}

const serial = () => `4${randomBytes(15).toString('hex')}`;
const pemOf = (key: webcrypto.CryptoKey) =>
  KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' }).toString();

export class V2CertificateAuthority {
  private constructor(
    readonly certificatePem: string,
    private readonly signingKey: webcrypto.CryptoKey,
  ) {}

  static async create(): Promise<V2CertificateAuthority> {
    const x509 = await loadX509();
    const keys = (await webcrypto.subtle.generateKey(RSA, true, [
      'sign',
      'verify',
    ])) as webcrypto.CryptoKeyPair;
    const now = Date.now();
    const certificate = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: CA_NAME,
      notBefore: new Date(now - 3600_000),
      notAfter: new Date(now + 5 * 365 * 86400_000),
      keys,
      signingAlgorithm: RSA,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ],
    });
    return new V2CertificateAuthority(certificate.toString('pem'), keys.privateKey);
  }

  /** A leaf certificate: the server's (names for its host) or a merchant's client certificate. */
  async issue(subject: string, kind: 'server' | 'client', hosts: string[] = []): Promise<IssuedCertificate> {
    const x509 = await loadX509();
    const keys = (await webcrypto.subtle.generateKey(RSA, true, [
      'sign',
      'verify',
    ])) as webcrypto.CryptoKeyPair;
    const now = Date.now();
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject,
      issuer: CA_NAME,
      notBefore: new Date(now - 3600_000),
      notAfter: new Date(now + 365 * 86400_000),
      publicKey: keys.publicKey,
      signingKey: this.signingKey,
      signingAlgorithm: RSA,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
          true,
        ),
        new x509.ExtendedKeyUsageExtension([kind === 'server' ? '1.3.6.1.5.5.7.3.1' : '1.3.6.1.5.5.7.3.2']),
        ...(hosts.length > 0
          ? [
              new x509.SubjectAlternativeNameExtension(
                hosts.map((host) =>
                  /^[\d.]+$|:/.test(host) ? { type: 'ip', value: host } : { type: 'dns', value: host },
                ),
              ),
            ]
          : []),
      ],
    });
    return { cert: certificate.toString('pem'), key: pemOf(keys.privateKey) };
  }
}

/** A self-signed client certificate outside the test CA: what a wrong or forged certificate looks like. */
export async function selfSignedClientCertificate(subject: string): Promise<IssuedCertificate> {
  const x509 = await loadX509();
  const keys = (await webcrypto.subtle.generateKey(RSA, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: subject,
    notBefore: new Date(Date.now() - 3600_000),
    notAfter: new Date(Date.now() + 365 * 86400_000),
    keys,
    signingAlgorithm: RSA,
  });
  return { cert: certificate.toString('pem'), key: pemOf(keys.privateKey) };
}
