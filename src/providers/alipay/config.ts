/**
 * Per-merchant Alipay OpenAPI settings, and their validation into the shape the transport uses.
 * Keys become KeyObjects and certificates become SNs here, so no PEM travels further than this file.
 */
import { createPrivateKey, createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';
import { PayError } from '../../core/errors.ts';
import { certificateSha256 } from '../fingerprint.ts';
import type { CertificateFacts } from '../provider.ts';
import { AlipayKeyring } from './cert-keyring.ts';
import { certificateSn, publicKeyOfCertificate, rootCertificateSn } from './cert-sn.ts';

export const DEFAULT_GATEWAY = 'https://openapi.alipay.com/gateway.do';
export const SANDBOX_GATEWAY = 'https://openapi-sandbox.dl.alipaydev.com/gateway.do';

export interface RetryPolicy {
  /** Total attempts including the first one. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 2_000 };

/** Certificate mode: the three files Alipay's console hands out, as PEM text. */
export interface AlipayCertificates {
  /** appCertPublicKey_<appid>.crt */
  appCert: string;
  /** alipayCertPublicKey_RSA2.crt */
  alipayCert: string;
  /** alipayRootCert.crt: a bundle of several root certificates. */
  alipayRootCert: string;
}

export interface AlipayMerchantConfig {
  /** Our merchant id (the tenant inside VK-Pay), not Alipay's. */
  merchantId: string;
  /** Which of the merchant's Alipay apps this is, for routes and its orders; `default` when unset. */
  account?: string;
  /** The Alipay app id (app_id). */
  appId: string;
  /** The app private key, PEM, PKCS#8 ("PRIVATE KEY") or PKCS#1 ("RSA PRIVATE KEY"). */
  privateKey: string | KeyObject;
  /** Public-key mode: the Alipay public key (PEM, or the bare base64 SPKI the console shows). */
  alipayPublicKey?: string | KeyObject;
  /** Certificate mode, instead of alipayPublicKey. */
  certificates?: AlipayCertificates;
  /** The Alipay user id of the seller (2088...), checked against seller_id in notifications. */
  sellerId?: string;
  /** ISV mode: the token that lets our app act for the merchant's app. */
  appAuthToken?: string;
  /** gateway.do URL; defaults to production. SANDBOX_GATEWAY for Alipay's sandbox. */
  baseUrl?: string;
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /**
   * Notifications whose notify_time is older than this are refused as replays: Alipay's resends of
   * one notification end about 24 h 24 min after its first send. 25 by default.
   */
  notifyMaxAgeHours?: number;
}

/** Alipay's 8 sends of a notification (4m, 10m, 10m, 1h, 2h, 6h, 15h apart) span 24 h 24 min. */
export const DEFAULT_NOTIFY_MAX_AGE_HOURS = 25;

/** A merchant's settings after validation; the secrets only exist in these fields. */
export interface AlipayMerchant {
  merchantId: string;
  appId: string;
  privateKey: KeyObject;
  alipayPublicKey: KeyObject;
  /** Certificate mode only: sent with every request; `alipay` is the configured certificate's SN. */
  certSn: { app: string; alipay: string; root: string } | null;
  /**
   * Certificate mode only: Alipay's keys by certificate SN, the configured one first; a renewed
   * certificate is downloaded and checked against the root when an answer names it.
   */
  keyring: AlipayKeyring | null;
  /** Certificate mode only: the app's and Alipay's certificates with their dates, for operators. */
  certificates: CertificateFacts[];
  sellerId: string | null;
  appAuthToken: string | null;
  gatewayUrl: string;
  timeoutMs: number;
  retry: RetryPolicy;
  notifyMaxAgeHours: number;
}

function configError(merchantId: string, field: string, problem: string, code: 40001 | 40003 = 40003) {
  // The message names the field only: a key's value must never be echoed into an error.
  return new PayError(code, { field, message: `alipay merchant ${merchantId}: ${field} ${problem}` });
}

/** The console shows keys as bare base64; wrap them so node:crypto can read them. */
function asPem(text: string, label: string): string {
  if (text.includes('-----BEGIN')) return text;
  const body = text.replace(/\s+/g, '');
  return `-----BEGIN ${label}-----\n${body.replace(/(.{64})/g, '$1\n')}\n-----END ${label}-----\n`;
}

function loadPrivateKey(merchantId: string, key: string | KeyObject): KeyObject {
  if (typeof key !== 'string') {
    if (key.type !== 'private') throw configError(merchantId, 'privateKey', 'must be a private key');
    return key;
  }
  for (const label of ['PRIVATE KEY', 'RSA PRIVATE KEY']) {
    try {
      return createPrivateKey(asPem(key, label));
    } catch {
      // try the next encoding; reported below without the key's text
    }
  }
  throw configError(merchantId, 'privateKey', 'is not a readable PKCS#8 or PKCS#1 private key');
}

function loadPublicKey(merchantId: string, key: string | KeyObject): KeyObject {
  if (typeof key !== 'string') return key.type === 'private' ? createPublicKey(key) : key;
  try {
    return createPublicKey(asPem(key, 'PUBLIC KEY'));
  } catch {
    throw configError(merchantId, 'alipayPublicKey', 'is not a readable public key');
  }
}

function certificateMode(merchantId: string, certificates: AlipayCertificates) {
  const read = <T>(field: string, work: () => T): T => {
    try {
      return work();
    } catch (error) {
      if (error instanceof PayError) throw configError(merchantId, field, error.message);
      throw configError(merchantId, field, 'is not a readable X.509 certificate');
    }
  };
  const alipayPublicKey = read('certificates.alipayCert', () =>
    publicKeyOfCertificate(certificates.alipayCert),
  );
  const certSn = {
    app: read('certificates.appCert', () => certificateSn(certificates.appCert)),
    alipay: read('certificates.alipayCert', () => certificateSn(certificates.alipayCert)),
    root: read('certificates.alipayRootCert', () => rootCertificateSn(certificates.alipayRootCert)),
  };
  const keyring = read(
    'certificates.alipayRootCert',
    () =>
      new AlipayKeyring({ sn: certSn.alipay, key: alipayPublicKey }, certificates.alipayRootCert, Date.now),
  );
  const facts = (role: string, sn: string, pem: string): CertificateFacts => {
    const certificate = new X509Certificate(pem);
    return {
      role,
      serial: sn,
      notBefore: new Date(certificate.validFrom).toISOString(),
      notAfter: new Date(certificate.validTo).toISOString(),
      sha256: certificateSha256(certificate),
    };
  };
  const dated = read('certificates.appCert', () => [
    facts('app', certSn.app, certificates.appCert),
    facts('alipay', certSn.alipay, certificates.alipayCert),
  ]);
  return { alipayPublicKey, certSn, keyring, certificates: dated };
}

export function resolveMerchant(config: AlipayMerchantConfig): AlipayMerchant {
  const id = config.merchantId;
  if (!id) throw new PayError(40003, { field: 'merchantId', message: 'alipay merchantId is required' });
  if (!config.appId) throw configError(id, 'appId', 'is required');
  if (!config.privateKey) throw configError(id, 'privateKey', 'is required');
  if (config.alipayPublicKey && config.certificates) {
    throw configError(id, 'alipayPublicKey', 'and certificates are two modes: configure one of them');
  }
  let verification: Pick<AlipayMerchant, 'alipayPublicKey' | 'certSn' | 'keyring' | 'certificates'>;
  if (config.certificates) verification = certificateMode(id, config.certificates);
  else if (config.alipayPublicKey) {
    verification = {
      alipayPublicKey: loadPublicKey(id, config.alipayPublicKey),
      certSn: null,
      keyring: null,
      certificates: [],
    };
  } else throw configError(id, 'alipayPublicKey', 'or certificates is required to verify Alipay');
  const notifyMaxAgeHours = config.notifyMaxAgeHours ?? DEFAULT_NOTIFY_MAX_AGE_HOURS;
  if (
    typeof notifyMaxAgeHours !== 'number' ||
    !Number.isFinite(notifyMaxAgeHours) ||
    notifyMaxAgeHours <= 0
  ) {
    throw configError(id, 'notifyMaxAgeHours', 'must be a positive number of hours', 40001);
  }
  const gatewayUrl = config.baseUrl ?? DEFAULT_GATEWAY;
  try {
    new URL(gatewayUrl);
  } catch {
    throw configError(id, 'baseUrl', 'is not a URL', 40001);
  }
  return {
    merchantId: id,
    appId: config.appId,
    privateKey: loadPrivateKey(id, config.privateKey),
    ...verification,
    sellerId: config.sellerId || null,
    appAuthToken: config.appAuthToken || null,
    gatewayUrl,
    timeoutMs: config.timeoutMs ?? 10_000,
    retry: { ...DEFAULT_RETRY, ...config.retry },
    notifyMaxAgeHours,
  };
}
