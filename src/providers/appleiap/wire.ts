/**
 * The App Store's wire types, in Apple's own field names: decoded JWS payloads (transaction,
 * renewal info, notification V2) and the App Store Server API's answers and errors.
 */

/** JWSTransactionDecodedPayload: the fields this service reads. Times are ms since the epoch. */
export interface AppleTransaction {
  transactionId: string;
  originalTransactionId: string;
  bundleId: string;
  productId: string;
  purchaseDate: number;
  originalPurchaseDate?: number;
  expiresDate?: number;
  quantity: number;
  type: 'Auto-Renewable Subscription' | 'Non-Consumable' | 'Consumable' | 'Non-Renewing Subscription';
  appAccountToken?: string;
  inAppOwnershipType?: string;
  signedDate: number;
  environment: string;
  revocationDate?: number;
  revocationReason?: number;
  transactionReason?: 'PURCHASE' | 'RENEWAL';
  storefront?: string;
  currency?: string;
  /** Price in milliunits of the currency (1 CNY = 1000). */
  price?: number;
  webOrderLineItemId?: string;
}

export interface AppleRenewalInfo {
  originalTransactionId: string;
  autoRenewProductId?: string;
  productId: string;
  autoRenewStatus?: number;
  signedDate: number;
  environment: string;
}

export interface AppleNotificationData {
  appAppleId?: number;
  bundleId: string;
  bundleVersion?: string;
  environment: string;
  signedTransactionInfo?: string;
  signedRenewalInfo?: string;
  status?: number;
}

/** ResponseBodyV2DecodedPayload. */
export interface AppleNotificationPayload {
  notificationType: string;
  subtype?: string;
  notificationUUID: string;
  version?: string;
  signedDate: number;
  data?: AppleNotificationData;
  summary?: { appAppleId?: number; bundleId: string; environment: string };
}

/** GET /inApps/v1/transactions/{transactionId}. */
export interface TransactionInfoResponse {
  signedTransactionInfo: string;
}

/** The App Store Server API's error body. */
export interface AppleApiError {
  errorCode: number;
  errorMessage: string;
}
