/**
 * The emulator's own App Store signing CA, generated at runtime: an EC P-256 root that issues an
 * intermediate carrying Apple's WWDR marker (1.2.840.113635.100.6.2.1), which issues the leaf that
 * signs every JWS, carrying the App Store receipt-signing marker (1.2.840.113635.100.6.11.1). It
 * cannot sign under Apple's root, so a merchant's verifier trusts this root in tests and Apple's in
 * production. Options make the broken chains the verifier must refuse.
 */
import { createPrivateKey, createPublicKey, KeyObject, randomBytes, webcrypto } from 'node:crypto';
import { loadX509 } from '../../core/x509.ts';

export const LEAF_MARKER_OID = '1.2.840.113635.100.6.11.1';
export const INTERMEDIATE_MARKER_OID = '1.2.840.113635.100.6.2.1';

const EC_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const ROOT_NAME =
  'CN=VK-Pay Sandbox Apple Root CA - G3, OU=Apple Certification Authority, O=VK-Pay Sandbox, C=CN';
const INTERMEDIATE_NAME =
  'CN=VK-Pay Sandbox Apple Worldwide Developer Relations Certification Authority, OU=G6, O=VK-Pay Sandbox, C=CN';
const LEAF_NAME =
  'CN=VK-Pay Sandbox Prod ECC Mac App Store and iTunes Store Receipt Signing, O=VK-Pay Sandbox, C=CN';
const YEAR_MS = 365 * 86_400_000;
/** DER NULL: the value Apple's marker extensions carry. */
const DER_NULL = new Uint8Array([0x05, 0x00]);

/** What a chain leaves out or gets wrong, for the refusals tests must see. */
export interface ChainFlaws {
  /** The leaf lacks its marker OID. */
  leafWithoutMarker?: boolean;
  /** The intermediate lacks its marker OID. */
  intermediateWithoutMarker?: boolean;
  /** Leaf validity, by default from an hour before `now` to two years after. */
  leafNotBefore?: number;
  leafNotAfter?: number;
}

/** A signing chain: the leaf's private key, and the x5c (leaf, intermediate, root) in base64 DER. */
export interface SigningChain {
  leafKey: KeyObject;
  x5c: [string, string, string];
}

/** What the state file keeps of the CA, PEM. */
export interface AppleCaState {
  rootPem: string;
  rootKeyPem: string;
  intermediatePem: string;
  intermediateKeyPem: string;
  leafPem: string;
  leafKeyPem: string;
}

type KeyPair = webcrypto.CryptoKeyPair;

function serialHex(): string {
  // A leading 1-7 nibble keeps DER free of a sign byte.
  return `1${randomBytes(15).toString('hex')}`;
}

async function generateKeys(): Promise<KeyPair> {
  return (await webcrypto.subtle.generateKey(EC_ALGORITHM, true, ['sign', 'verify'])) as KeyPair;
}

function pemToBase64(pem: string): string {
  return pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
}

export class AppleTestCa {
  private constructor(
    private readonly root: { keys: KeyPair; pem: string },
    private readonly intermediate: { keys: KeyPair; pem: string },
    private chain: SigningChain,
    private readonly now: () => number,
  ) {}

  static async create(now: () => number = Date.now): Promise<AppleTestCa> {
    const x509 = await loadX509();
    const rootKeys = await generateKeys();
    const root = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serialHex(),
      name: ROOT_NAME,
      notBefore: new Date(now() - YEAR_MS),
      notAfter: new Date(now() + 20 * YEAR_MS),
      keys: rootKeys,
      signingAlgorithm: EC_ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ],
    });
    const rootPair = { keys: rootKeys, pem: root.toString('pem') };
    const intermediate = await AppleTestCa.issueIntermediate(rootPair, now, true);
    const ca = new AppleTestCa(rootPair, intermediate, undefined as unknown as SigningChain, now);
    ca.chain = await ca.issueChain();
    return ca;
  }

  /** Becomes the CA a state file kept, so what it signed before a restart still verifies. */
  static async restore(state: AppleCaState, now: () => number = Date.now): Promise<AppleTestCa> {
    const pair = async (pem: string, keyPem: string) => {
      const privateKey = createPrivateKey(keyPem);
      const publicKey = createPublicKey(privateKey);
      const keys: KeyPair = {
        privateKey: await webcrypto.subtle.importKey(
          'pkcs8',
          privateKey.export({ type: 'pkcs8', format: 'der' }),
          EC_ALGORITHM,
          true,
          ['sign'],
        ),
        publicKey: await webcrypto.subtle.importKey(
          'spki',
          publicKey.export({ type: 'spki', format: 'der' }),
          EC_ALGORITHM,
          true,
          ['verify'],
        ),
      };
      return { keys, pem };
    };
    const root = await pair(state.rootPem, state.rootKeyPem);
    const intermediate = await pair(state.intermediatePem, state.intermediateKeyPem);
    const chain: SigningChain = {
      leafKey: createPrivateKey(state.leafKeyPem),
      x5c: [pemToBase64(state.leafPem), pemToBase64(state.intermediatePem), pemToBase64(state.rootPem)],
    };
    return new AppleTestCa(root, intermediate, chain, now);
  }

  toState(): AppleCaState {
    const keyPem = (key: webcrypto.CryptoKey) =>
      KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' }).toString();
    return {
      rootPem: this.root.pem,
      rootKeyPem: keyPem(this.root.keys.privateKey),
      intermediatePem: this.intermediate.pem,
      intermediateKeyPem: keyPem(this.intermediate.keys.privateKey),
      leafPem: `-----BEGIN CERTIFICATE-----\n${this.chain.x5c[0]}\n-----END CERTIFICATE-----\n`,
      leafKeyPem: this.chain.leafKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
  }

  /** The root a merchant's verifier trusts, PEM. */
  get rootPem(): string {
    return this.root.pem;
  }

  /** The root, DER: what Apple's own SignedDataVerifier takes. */
  get rootDer(): Buffer {
    return Buffer.from(pemToBase64(this.root.pem), 'base64');
  }

  /** The chain the emulator signs with. */
  get signingChain(): SigningChain {
    return this.chain;
  }

  private static async issueIntermediate(
    root: { keys: KeyPair; pem: string },
    now: () => number,
    withMarker: boolean,
  ): Promise<{ keys: KeyPair; pem: string }> {
    const x509 = await loadX509();
    const keys = await generateKeys();
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: serialHex(),
      subject: INTERMEDIATE_NAME,
      issuer: ROOT_NAME,
      notBefore: new Date(now() - YEAR_MS),
      notAfter: new Date(now() + 10 * YEAR_MS),
      publicKey: keys.publicKey,
      signingKey: root.keys.privateKey,
      signingAlgorithm: EC_ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        ...(withMarker ? [new x509.Extension(INTERMEDIATE_MARKER_OID, false, DER_NULL)] : []),
      ],
    });
    return { keys, pem: certificate.toString('pem') };
  }

  /** Issues a leaf (and, when the intermediate must lack its marker, an intermediate) under this root. */
  async issueChain(flaws: ChainFlaws = {}): Promise<SigningChain> {
    const x509 = await loadX509();
    const intermediate = flaws.intermediateWithoutMarker
      ? await AppleTestCa.issueIntermediate(this.root, this.now, false)
      : this.intermediate;
    const keys = await generateKeys();
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber: serialHex(),
      subject: LEAF_NAME,
      issuer: INTERMEDIATE_NAME,
      notBefore: new Date(flaws.leafNotBefore ?? this.now() - 3600_000),
      notAfter: new Date(flaws.leafNotAfter ?? this.now() + 2 * YEAR_MS),
      publicKey: keys.publicKey,
      signingKey: intermediate.keys.privateKey,
      signingAlgorithm: EC_ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        ...(flaws.leafWithoutMarker ? [] : [new x509.Extension(LEAF_MARKER_OID, false, DER_NULL)]),
      ],
    });
    return {
      leafKey: KeyObject.from(keys.privateKey),
      x5c: [pemToBase64(leaf.toString('pem')), pemToBase64(intermediate.pem), pemToBase64(this.root.pem)],
    };
  }
}
