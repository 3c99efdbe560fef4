/**
 * The apps the emulator knows, as App Store Connect holds them: bundle id, Apple id, the in-app
 * purchase key (issuer id, key id, public key) the Server API's JWTs are checked with, the products
 * on sale and the notification URL of each environment.
 */
import {
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  randomInt,
  randomUUID,
} from 'node:crypto';

export const ENVIRONMENTS = ['Production', 'Sandbox'] as const;
export type AppleEnvironment = (typeof ENVIRONMENTS)[number];

export const PRODUCT_TYPES = [
  'Consumable',
  'Non-Consumable',
  'Auto-Renewable Subscription',
  'Non-Renewing Subscription',
] as const;
export type ProductType = (typeof PRODUCT_TYPES)[number];

export interface Product {
  productId: string;
  type: ProductType;
  /** In milliunits of the currency, as Apple writes `price` (6 CNY = 6000). */
  price: number;
  currency: string;
  /** Auto-renewable subscriptions: the period, in days of gateway time. */
  periodDays?: number;
  subscriptionGroupIdentifier?: string;
}

export interface AppRecord {
  bundleId: string;
  appAppleId: number;
  issuerId: string;
  keyId: string;
  publicKey: KeyObject;
  products: Map<string, Product>;
  notificationUrls: Partial<Record<AppleEnvironment, string>>;
  /** The app-specific shared secret verifyReceipt takes as `password`. */
  sharedSecret: string;
}

export interface AppRegistration {
  bundleId: string;
  appAppleId?: number;
  products: Product[];
  /** Production Server Notifications V2 URL. */
  notificationUrl?: string;
  sandboxNotificationUrl?: string;
  /** The in-app purchase key's public half; the emulator generates the key when it is absent. */
  publicKeyPem?: string;
  issuerId?: string;
  keyId?: string;
  /** The app-specific shared secret (32 hex digits); generated when absent. */
  sharedSecret?: string;
}

/** What App Store Connect hands the developer: ids, and the .p8 key when it made one. */
export interface AppCredentials {
  bundleId: string;
  appAppleId: number;
  issuerId: string;
  keyId: string;
  privateKeyPem?: string;
  sharedSecret: string;
}

const BUNDLE_PATTERN = /^[A-Za-z0-9.-]{1,155}$/;
const PRODUCT_ID_PATTERN = /^[A-Za-z0-9._-]{1,100}$/;
const KEY_ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** Why a registration is refused, in one sentence; null when it is fine. */
export function registrationProblem(input: AppRegistration): string | null {
  if (typeof input?.bundleId !== 'string' || !BUNDLE_PATTERN.test(input.bundleId))
    return 'bundleId is invalid';
  if (!Array.isArray(input.products) || input.products.length === 0) return 'products must list at least one';
  for (const product of input.products) {
    if (typeof product?.productId !== 'string' || !PRODUCT_ID_PATTERN.test(product.productId))
      return 'a productId is invalid';
    if (!PRODUCT_TYPES.includes(product.type)) return `product ${product.productId}: type is invalid`;
    if (!Number.isSafeInteger(product.price) || product.price < 0)
      return `product ${product.productId}: price must be an integer of milliunits`;
    if (typeof product.currency !== 'string' || !/^[A-Z]{3}$/.test(product.currency))
      return `product ${product.productId}: currency is invalid`;
  }
  if (
    input.sharedSecret !== undefined &&
    (typeof input.sharedSecret !== 'string' || !/^[0-9a-f]{32}$/.test(input.sharedSecret))
  )
    return 'sharedSecret must be 32 lowercase hex digits';
  for (const url of [input.notificationUrl, input.sandboxNotificationUrl]) {
    if (url !== undefined && (typeof url !== 'string' || !/^https?:\/\//.test(url)))
      return 'notification URLs must be http(s) URLs';
  }
  return null;
}

/** Builds the app record; throws on an unreadable public key. */
export function createApp(input: AppRegistration): { app: AppRecord; credentials: AppCredentials } {
  let publicKey: KeyObject;
  let privateKeyPem: string | undefined;
  if (input.publicKeyPem) {
    publicKey = createPublicKey(input.publicKeyPem);
    if (publicKey.asymmetricKeyType !== 'ec' || publicKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
      throw new Error('the in-app purchase key must be EC P-256');
  } else {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    publicKey = pair.publicKey;
    privateKeyPem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  }
  const keyId =
    input.keyId ??
    Array.from({ length: 10 }, () => KEY_ID_ALPHABET[randomInt(KEY_ID_ALPHABET.length)]).join('');
  const app: AppRecord = {
    bundleId: input.bundleId,
    appAppleId: input.appAppleId ?? randomInt(1_000_000_000, 2_000_000_000),
    issuerId: input.issuerId ?? randomUUID(),
    keyId,
    publicKey,
    products: new Map(
      input.products.map((product) => [
        product.productId,
        {
          ...product,
          ...(product.type === 'Auto-Renewable Subscription'
            ? {
                periodDays: product.periodDays ?? 30,
                subscriptionGroupIdentifier: product.subscriptionGroupIdentifier ?? '21000001',
              }
            : {}),
        },
      ]),
    ),
    sharedSecret: input.sharedSecret ?? randomBytes(16).toString('hex'),
    notificationUrls: {
      ...(input.notificationUrl ? { Production: input.notificationUrl } : {}),
      ...(input.sandboxNotificationUrl ? { Sandbox: input.sandboxNotificationUrl } : {}),
    },
  };
  return {
    app,
    credentials: {
      bundleId: app.bundleId,
      appAppleId: app.appAppleId,
      issuerId: app.issuerId,
      keyId: app.keyId,
      ...(privateKeyPem ? { privateKeyPem } : {}),
      sharedSecret: app.sharedSecret,
    },
  };
}
