/**
 * One merchant account's App Store settings: the app (bundle id, Apple id), the in-app purchase key
 * for the Server API, the trusted roots for signed data, the environment, and the products on sale
 * with the amount and order type each one pays for.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { PayError } from '../../core/errors.ts';
import type { AppleEnvironment } from './signed-data.ts';

export const PRODUCTION_URL = 'https://api.storekit.apple.com';
export const SANDBOX_URL = 'https://api.storekit-sandbox.apple.com';
/** The legacy verifyReceipt hosts (deprecated by Apple; for old apps' receipts). */
export const RECEIPT_URL = 'https://buy.itunes.apple.com';
export const SANDBOX_RECEIPT_URL = 'https://sandbox.itunes.apple.com';

export interface AppleIapProductConfig {
  /** What a purchase of it pays, in fen. */
  totalFen: number;
  /** The order type (its handler or webhook) a purchase of it is for. */
  type: string;
}

export interface AppleIapMerchantConfig {
  merchantId: string;
  account?: string;
  bundleId: string;
  /** The app's Apple id; required in production. */
  appAppleId?: number;
  /** The in-app purchase key (.p8, PEM) and its ids from App Store Connect. */
  issuerId: string;
  keyId: string;
  privateKey: string | KeyObject;
  environment: AppleEnvironment;
  /** Production only: also take sandbox purchases (App Review buys in the sandbox). */
  acceptSandbox?: boolean;
  /** Trusted roots for signed data, PEM: Apple Root CA - G3 in production. */
  rootCertificates: string[];
  products: Record<string, AppleIapProductConfig>;
  /** Server API hosts; Apple's by default, the emulator's in tests. */
  baseUrl?: string;
  sandboxBaseUrl?: string;
  /** The app-specific shared secret, for legacy receipts (verifyReceipt's password). */
  sharedSecret?: string;
  /** verifyReceipt hosts; Apple's by default. */
  receiptBaseUrl?: string;
  sandboxReceiptBaseUrl?: string;
  timeoutMs?: number;
}

export interface AppleIapMerchant {
  merchantId: string;
  bundleId: string;
  appAppleId?: number;
  issuerId: string;
  keyId: string;
  privateKey: KeyObject;
  environment: AppleEnvironment;
  acceptSandbox: boolean;
  rootCertificates: string[];
  products: Map<string, AppleIapProductConfig>;
  baseUrls: Record<AppleEnvironment, string>;
  sharedSecret?: string;
  receiptUrls: Record<AppleEnvironment, string>;
  timeoutMs: number;
}

function invalid(merchantId: string, field: string, message: string): PayError {
  return new PayError(40003, { field, message: `appleiap merchant ${merchantId}: ${message}` });
}

export function resolveMerchant(config: AppleIapMerchantConfig): AppleIapMerchant {
  const id = String(config.merchantId);
  if (!config.bundleId) throw invalid(id, 'bundleId', 'bundleId is required');
  if (!config.issuerId || !config.keyId) throw invalid(id, 'keyId', 'issuerId and keyId are required');
  if (config.environment !== 'Production' && config.environment !== 'Sandbox')
    throw invalid(id, 'environment', 'environment must be Production or Sandbox');
  if (config.environment === 'Production' && !Number.isSafeInteger(config.appAppleId))
    throw invalid(id, 'appAppleId', 'appAppleId is required in production');
  if (!Array.isArray(config.rootCertificates) || config.rootCertificates.length === 0)
    throw invalid(id, 'rootCertificates', 'at least one trusted root certificate is required');
  let privateKey: KeyObject;
  try {
    privateKey =
      typeof config.privateKey === 'string' ? createPrivateKey(config.privateKey) : config.privateKey;
  } catch {
    throw invalid(id, 'privateKey', 'the in-app purchase key is not a readable PEM private key');
  }
  if (privateKey.asymmetricKeyType !== 'ec')
    throw invalid(id, 'privateKey', 'the in-app purchase key must be EC P-256');
  const products = new Map<string, AppleIapProductConfig>();
  for (const [productId, product] of Object.entries(config.products ?? {})) {
    if (!Number.isSafeInteger(product?.totalFen) || product.totalFen <= 0)
      throw invalid(id, 'products', `product ${productId}: totalFen must be a positive integer`);
    if (typeof product.type !== 'string' || product.type === '')
      throw invalid(id, 'products', `product ${productId}: type is required`);
    products.set(productId, { totalFen: product.totalFen, type: product.type });
  }
  if (products.size === 0) throw invalid(id, 'products', 'at least one product is required');
  if (
    config.sharedSecret !== undefined &&
    (typeof config.sharedSecret !== 'string' || !/^[0-9a-fA-F]{32}$/.test(config.sharedSecret))
  )
    throw invalid(id, 'sharedSecret', 'the shared secret must be 32 hex digits');
  return {
    merchantId: id,
    bundleId: config.bundleId,
    ...(config.appAppleId !== undefined ? { appAppleId: config.appAppleId } : {}),
    issuerId: config.issuerId,
    keyId: config.keyId,
    privateKey,
    environment: config.environment,
    acceptSandbox: config.environment === 'Production' && config.acceptSandbox === true,
    rootCertificates: config.rootCertificates,
    products,
    baseUrls: {
      Production: (config.baseUrl ?? PRODUCTION_URL).replace(/\/+$/, ''),
      Sandbox: (config.sandboxBaseUrl ?? SANDBOX_URL).replace(/\/+$/, ''),
    },
    ...(config.sharedSecret ? { sharedSecret: config.sharedSecret } : {}),
    receiptUrls: {
      Production: (config.receiptBaseUrl ?? RECEIPT_URL).replace(/\/+$/, ''),
      Sandbox: (config.sandboxReceiptBaseUrl ?? SANDBOX_RECEIPT_URL).replace(/\/+$/, ''),
    },
    timeoutMs: config.timeoutMs ?? 10_000,
  };
}
