/**
 * Apple's signed transactions -> our StorePurchase: the product's configured amount and order type,
 * and the buyer's appAccountToken, which for an order with a user is derived from that user.
 */
import { createHash } from 'node:crypto';
import { PayError } from '../../core/errors.ts';
import type { StorePurchase } from '../provider.ts';
import type { AppleIapMerchant } from './config.ts';
import type { AppleTransaction } from './wire.ts';

/**
 * The appAccountToken (a UUID) of one of a merchant's users: the app passes it to StoreKit's
 * purchase, and the server finds the same user in the signed transaction. A name-based UUID
 * (version 5 layout over SHA-256) of the merchant and the user id, so no table is needed.
 */
export function appAccountTokenFor(merchantId: string, userId: string): string {
  const bytes = createHash('sha256')
    .update(`vk-pay appAccountToken\0${merchantId}\0${userId}`)
    .digest()
    .subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The purchase a verified transaction records; 40001 for a product this merchant does not sell. */
export function purchaseOf(merchant: AppleIapMerchant, transaction: AppleTransaction): StorePurchase {
  const product = merchant.products.get(transaction.productId);
  if (!product)
    throw new PayError(40001, {
      field: 'productId',
      message: `product ${JSON.stringify(String(transaction.productId).slice(0, 100))} is not configured for this app`,
    });
  const quantity =
    Number.isSafeInteger(transaction.quantity) && transaction.quantity > 0 ? transaction.quantity : 1;
  return {
    transactionId: transaction.transactionId,
    originalTransactionId: transaction.originalTransactionId ?? transaction.transactionId,
    productId: transaction.productId,
    amountFen: product.totalFen * quantity,
    orderType: product.type,
    appAccountToken:
      typeof transaction.appAccountToken === 'string' ? transaction.appAccountToken.toLowerCase() : null,
    renewal: transaction.transactionReason === 'RENEWAL',
    paidAt: new Date(transaction.purchaseDate),
    revokedAt: typeof transaction.revocationDate === 'number' ? new Date(transaction.revocationDate) : null,
    environment: transaction.environment,
    raw: transaction,
  };
}
