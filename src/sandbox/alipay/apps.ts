/**
 * Registered apps and their keys. Each app gets its own "Alipay" key pair, generated at runtime;
 * in certificate mode the test CA issues the app certificate (unless one is supplied) and the
 * Alipay public-key certificate, and the gateway checks requests against their SNs.
 */
import { createPublicKey, generateKeyPairSync, type KeyObject, X509Certificate } from 'node:crypto';
import { certificateSn, rootCertificateSn } from './cert-sn.ts';
import type { AlipayRuntime } from './runtime.ts';
import { randomDigits } from './runtime.ts';
import type { ResponseSigner } from './signing.ts';
import type { AlipayTestCa } from './test-ca.ts';

export type KeyMode = 'publicKey' | 'certificate';

/** Body of POST /sandbox/alipay/apps. */
export interface AppRegistration {
  /** 16 digits; generated when left out. */
  appId?: string;
  /** Default 'publicKey'. */
  keyMode?: KeyMode;
  /** The app public key, PEM or bare base64 SPKI as pasted into Alipay's console. */
  appPublicKey?: string;
  /** Certificate mode: an app certificate to trust as is, instead of one issued for appPublicKey. */
  appCert?: string;
  /** The merchant's 2088... partner id; generated when left out. */
  sellerId?: string;
}

export interface RegisteredApp {
  appId: string;
  keyMode: KeyMode;
  sellerId: string;
  appPublicKey: KeyObject;
  appCertPem?: string;
  appCertSn?: string;
  alipayPrivateKey: KeyObject;
  alipayPublicKeyPem: string;
  alipayCertPem?: string;
  alipayCertSn?: string;
  /** Certificates Alipay signed with before a renewal, by SN: still downloadable. */
  retiredAlipayCerts?: Map<string, string>;
}

/** What the merchant configures in its client: JSON answer of the apps routes. */
export interface AppCredentials {
  appId: string;
  keyMode: KeyMode;
  sellerId: string;
  alipayPublicKey: string;
  /** The same key as one base64 line, the form Alipay's console shows. */
  alipayPublicKeyBase64: string;
  appCert?: string;
  appCertSn?: string;
  alipayCert?: string;
  alipayCertSn?: string;
  alipayRootCert?: string;
  alipayRootCertSn?: string;
}

export class AppRegistryError extends Error {}

function parsePublicKey(text: string): KeyObject {
  const pem = text.includes('-----BEGIN')
    ? text
    : `-----BEGIN PUBLIC KEY-----\n${text.replace(/\s+/g, '')}\n-----END PUBLIC KEY-----\n`;
  try {
    return createPublicKey(pem);
  } catch (error) {
    throw new AppRegistryError(`appPublicKey is not an RSA public key: ${(error as Error).message}`);
  }
}

export class AppRegistry {
  private readonly apps = new Map<string, RegisteredApp>();
  private cachedRootCertSn: string | undefined;

  constructor(
    private readonly runtime: AlipayRuntime,
    private readonly ca: AlipayTestCa,
  ) {}

  get rootCertSn(): string {
    this.cachedRootCertSn ??= rootCertificateSn(this.ca.rootBundlePem);
    return this.cachedRootCertSn;
  }

  async register(registration: AppRegistration): Promise<AppCredentials> {
    const keyMode = registration.keyMode ?? 'publicKey';
    if (keyMode !== 'publicKey' && keyMode !== 'certificate') {
      throw new AppRegistryError(`keyMode must be publicKey or certificate, got ${String(keyMode)}`);
    }
    const appId = registration.appId ?? `2021${randomDigits(this.runtime.random, 12)}`;
    if (!/^\d{16}$/.test(appId)) throw new AppRegistryError('appId must be 16 digits');
    const alipay = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const app: RegisteredApp = {
      appId,
      keyMode,
      sellerId: registration.sellerId ?? `2088${randomDigits(this.runtime.random, 12)}`,
      appPublicKey: this.appKey(registration, keyMode),
      alipayPrivateKey: alipay.privateKey,
      alipayPublicKeyPem: alipay.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    };
    if (keyMode === 'certificate') {
      app.appCertPem =
        registration.appCert ?? (await this.ca.issue(app.appPublicKey, `appCertPublicKey_${appId}`));
      app.appCertSn = certificateSn(app.appCertPem);
      app.alipayCertPem = await this.ca.issue(alipay.publicKey, 'Alipay sandbox RSA2 public key');
      app.alipayCertSn = certificateSn(app.alipayCertPem);
    }
    this.apps.set(appId, app);
    return this.credentials(appId);
  }

  private appKey(registration: AppRegistration, keyMode: KeyMode): KeyObject {
    if (keyMode === 'certificate' && registration.appCert) {
      try {
        return new X509Certificate(registration.appCert).publicKey;
      } catch (error) {
        throw new AppRegistryError(`appCert is not a PEM certificate: ${(error as Error).message}`);
      }
    }
    if (!registration.appPublicKey) throw new AppRegistryError('appPublicKey (or appCert) is required');
    return parsePublicKey(registration.appPublicKey);
  }

  /**
   * Renews Alipay's key and public-key certificate for a certificate-mode app, as Alipay does from
   * time to time: answers and notifications are signed with the new key and carry the new SN; the
   * client fetches the certificate with alipay.open.app.alipaycert.download.
   */
  async rotateAlipayCert(appId: string): Promise<AppCredentials> {
    const app = this.get(appId);
    if (app.keyMode !== 'certificate' || !app.alipayCertPem || !app.alipayCertSn)
      throw new AppRegistryError(`app ${appId} is not in certificate mode`);
    const alipay = generateKeyPairSync('rsa', { modulusLength: 2048 });
    app.retiredAlipayCerts ??= new Map();
    app.retiredAlipayCerts.set(app.alipayCertSn, app.alipayCertPem);
    app.alipayPrivateKey = alipay.privateKey;
    app.alipayPublicKeyPem = alipay.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    app.alipayCertPem = await this.ca.issue(alipay.publicKey, 'Alipay sandbox RSA2 public key');
    app.alipayCertSn = certificateSn(app.alipayCertPem);
    return this.credentials(appId);
  }

  find(appId: string): RegisteredApp | undefined {
    return this.apps.get(appId);
  }

  all(): RegisteredApp[] {
    return [...this.apps.values()];
  }

  /** Takes back apps the state file kept (the CA is restored first, so the root SN is computed anew). */
  restore(apps: RegisteredApp[]): void {
    this.cachedRootCertSn = undefined;
    for (const app of apps) this.apps.set(app.appId, app);
  }

  get(appId: string): RegisteredApp {
    const app = this.apps.get(appId);
    if (!app) throw new AppRegistryError(`app ${appId} is not registered`);
    return app;
  }

  credentials(appId: string): AppCredentials {
    const app = this.get(appId);
    const base64 = app.alipayPublicKeyPem.replace(/-----[A-Z ]+-----|\s/g, '');
    const credentials: AppCredentials = {
      appId: app.appId,
      keyMode: app.keyMode,
      sellerId: app.sellerId,
      alipayPublicKey: app.alipayPublicKeyPem,
      alipayPublicKeyBase64: base64,
    };
    if (app.keyMode === 'certificate') {
      Object.assign(credentials, {
        appCert: app.appCertPem,
        appCertSn: app.appCertSn,
        alipayCert: app.alipayCertPem,
        alipayCertSn: app.alipayCertSn,
        alipayRootCert: this.ca.rootBundlePem,
        alipayRootCertSn: this.rootCertSn,
      });
    }
    return credentials;
  }

  signer(app: RegisteredApp): ResponseSigner {
    return { privateKey: app.alipayPrivateKey, alipayCertSn: app.alipayCertSn };
  }
}
