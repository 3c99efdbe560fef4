/**
 * The keys that verify WeChat Pay, chosen by Wechatpay-Serial: the WeChat Pay public key
 * ('PUB_KEY_ID_...') and/or platform certificates (configured or downloaded). During a migration
 * both are configured and both verify. Downloads are cached, refreshed on a schedule, repeated once
 * when an unknown serial arrives, and coalesced so concurrent requests share one download.
 */
import { type KeyObject, X509Certificate } from 'node:crypto';
import { PayError } from '../../core/errors.ts';
import { certificateSha256 } from '../fingerprint.ts';

export interface PlatformCertificate {
  serialNo: string;
  publicKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  /** SHA-256 of the certificate's DER, for operators to compare. */
  sha256?: string;
}

export interface VerifierKeyStoreOptions {
  merchantId: string;
  publicKey: { id: string; key: KeyObject } | null;
  certificates: PlatformCertificate[];
  download: (() => Promise<PlatformCertificate[]>) | null;
  now: () => number;
  refreshMs: number;
  /** Least time between downloads caused by unknown serials, so forged serials cannot cause a storm. */
  unknownSerialCooldownMs?: number;
}

const normalSerial = (serial: string): string => serial.toUpperCase().replace(/^0+/, '');

/** A PEM certificate as a verifier entry; 40003 when it cannot be read. */
export function parsePlatformCertificate(pem: string, expectedSerial?: string): PlatformCertificate {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch {
    throw new PayError(40003, { message: 'wxpay platform certificate is not a readable X.509 PEM' });
  }
  if (expectedSerial && normalSerial(expectedSerial) !== normalSerial(certificate.serialNumber)) {
    throw new PayError(40003, {
      message: `wxpay platform certificate serial ${certificate.serialNumber} does not match ${expectedSerial.slice(0, 64)}`,
    });
  }
  return {
    serialNo: certificate.serialNumber.toUpperCase(),
    publicKey: certificate.publicKey,
    notBefore: new Date(certificate.validFrom),
    notAfter: new Date(certificate.validTo),
    sha256: certificateSha256(certificate),
  };
}

export class VerifierKeyStore {
  readonly #options: VerifierKeyStoreOptions;
  #configured: PlatformCertificate[];
  #downloaded: PlatformCertificate[] = [];
  #downloadedAt: number | null = null;
  #lastDownloadStart = Number.NEGATIVE_INFINITY;
  #inflight: Promise<void> | null = null;
  /** How many downloads have completed; exposed for monitoring and tests. */
  downloads = 0;

  constructor(options: VerifierKeyStoreOptions) {
    this.#options = options;
    this.#configured = options.certificates;
  }

  /** The key that verifies messages signed under `serial`; 40003 when there is none. */
  async keyFor(serial: string): Promise<KeyObject> {
    const publicKey = this.#options.publicKey;
    if (publicKey && serial === publicKey.id) return publicKey.key;
    if (serial.startsWith('PUB_KEY_ID_')) {
      throw this.#certError(`wxpay ${serial.slice(0, 64)} is not the configured WeChat Pay public key id`);
    }
    const staleRefreshError = this.#options.download ? await this.#refreshIfStale() : null;
    let certificate = this.#find(serial);
    if (!certificate && staleRefreshError) throw staleRefreshError;
    if (!certificate && this.#options.download) {
      const now = this.#options.now();
      if (now - this.#lastDownloadStart >= (this.#options.unknownSerialCooldownMs ?? 60_000)) {
        await this.refresh();
        certificate = this.#find(serial);
      }
    }
    if (!certificate) {
      throw this.#certError(`wxpay Wechatpay-Serial ${serial.slice(0, 64)} matches no known platform key`);
    }
    const now = this.#options.now();
    if (now < certificate.notBefore.getTime() || now > certificate.notAfter.getTime()) {
      throw this.#certError(
        `wxpay platform certificate ${certificate.serialNo} is outside its validity period`,
      );
    }
    return certificate.publicKey;
  }

  /**
   * The serial to send as Wechatpay-Serial: the public key id when configured (responses then come
   * signed by it during a migration), otherwise the newest valid certificate.
   */
  preferredSerial(): string | null {
    if (this.#options.publicKey) return this.#options.publicKey.id;
    const now = this.#options.now();
    const valid = this.#all().filter((c) => c.notBefore.getTime() <= now && now <= c.notAfter.getTime());
    valid.sort((a, b) => b.notBefore.getTime() - a.notBefore.getTime());
    return valid[0]?.serialNo ?? null;
  }

  /**
   * The key sensitive request fields are encrypted with, and its serial for Wechatpay-Serial: the
   * public key in public-key mode, otherwise the newest valid platform certificate (downloaded
   * first when none is known yet).
   */
  async encryptionKey(): Promise<{ serial: string; key: KeyObject }> {
    const publicKey = this.#options.publicKey;
    if (publicKey) return { serial: publicKey.id, key: publicKey.key };
    if (this.preferredSerial() === null && this.#options.download) await this.refresh();
    const serial = this.preferredSerial();
    if (serial === null)
      throw this.#certError('wxpay has no valid platform key to encrypt sensitive fields with');
    return { serial, key: await this.keyFor(serial) };
  }

  /** Downloads the certificates now; concurrent callers share one download. */
  refresh(): Promise<void> {
    const download = this.#options.download;
    if (!download) return Promise.resolve();
    if (!this.#inflight) this.#lastDownloadStart = this.#options.now();
    this.#inflight ??= download()
      .then((certificates) => {
        this.#downloaded = certificates;
        this.#downloadedAt = this.#options.now();
        this.downloads += 1;
      })
      .finally(() => {
        this.#inflight = null;
      });
    return this.#inflight;
  }

  /** Refreshes when due; a failure is returned, not thrown, so cached keys keep working. */
  async #refreshIfStale(): Promise<unknown> {
    const at = this.#downloadedAt;
    if (at !== null && this.#options.now() - at < this.#options.refreshMs) return null;
    try {
      await this.refresh();
      return null;
    } catch (error) {
      // Try again a minute later rather than on every message while the gateway is unreachable.
      if (at !== null) this.#downloadedAt = this.#options.now() - this.#options.refreshMs + 60_000;
      return error;
    }
  }

  /** Every platform certificate known: configured, then downloaded. */
  certificates(): PlatformCertificate[] {
    return this.#all();
  }

  #all(): PlatformCertificate[] {
    return [...this.#configured, ...this.#downloaded];
  }

  #find(serial: string): PlatformCertificate | undefined {
    const wanted = normalSerial(serial);
    return this.#all().find((c) => normalSerial(c.serialNo) === wanted);
  }

  #certError(message: string): PayError {
    return new PayError(40003, {
      field: 'Wechatpay-Serial',
      message,
      details: { provider: 'wxpay', merchantId: this.#options.merchantId },
    });
  }
}
