/**
 * The Apple in-app purchase provider. The App Store, not this service, takes the money: an order
 * is paid by a transaction the app hands over, verified with the App Store Server API and Apple's
 * signature, and refunds are Apple's to grant, reported by notification.
 */
import { PayError } from '../../core/errors.ts';
import { AccountContexts, accountOf } from '../merchant-lookup.ts';
import { refusePaymentCode } from '../payment-codes.ts';
import type { PaymentResult, Provider, StorePurchase } from '../provider.ts';
import { AppleApiClient, type AppleFetch } from './api-client.ts';
import { type AppleIapMerchant, type AppleIapMerchantConfig, resolveMerchant } from './config.ts';
import { ackAppleNotify, parseAppleNotify } from './notify.ts';
import { appAccountTokenFor, purchaseOf } from './purchases.ts';
import { purchaseOfReceipt, verifyLegacyReceipt } from './receipts.ts';
import { type AppleEnvironment, AppleSignedDataVerifier } from './signed-data.ts';
import type { TransactionInfoResponse } from './wire.ts';

export type { AppleIapMerchantConfig, AppleIapProductConfig } from './config.ts';
export { appAccountTokenFor } from './purchases.ts';

export interface AppleIapProviderOptions {
  merchants: AppleIapMerchantConfig[];
  fetch?: AppleFetch;
  now?: () => number;
}

export interface TransactionInput {
  /** The StoreKit 2 transaction id (Transaction.id). */
  transactionId?: string;
  /** Or the signed transaction itself (Transaction's jwsRepresentation). */
  signedTransaction?: string;
}

export interface AppleIapProvider extends Provider {
  readonly name: 'appleiap';
  /** Asks the Server API for a transaction and verifies it: the purchase it records. */
  verifyTransaction(
    merchantId: string,
    account: string | undefined,
    input: TransactionInput,
  ): Promise<StorePurchase>;
  /**
   * Verifies an old app's receipt with the legacy verifyReceipt (deprecated by Apple): the purchase
   * of the entry named, or of the newest entry of a configured product.
   */
  verifyReceipt(
    merchantId: string,
    account: string | undefined,
    input: { receipt: string; transactionId?: string },
  ): Promise<StorePurchase>;
  /** The appAccountToken StoreKit's purchase takes for an order of ours. */
  orderToken(merchantId: string, outTradeNo: string): string;
  /** Asks Apple to send a TEST notification to the app's URL; its testNotificationToken. */
  requestTestNotification(merchantId: string, account?: string): Promise<string>;
}

interface AppleContext {
  merchant: AppleIapMerchant;
  client: AppleApiClient;
  /** The merchant's environment first, then the sandbox when a production app takes sandbox purchases. */
  verifiers: AppleSignedDataVerifier[];
}

const TRANSACTION_ID_PATTERN = /^[0-9]{1,20}$/;

export function createAppleIapProvider(options: AppleIapProviderOptions): AppleIapProvider {
  const now = options.now ?? Date.now;
  const fetchImpl: AppleFetch = options.fetch ?? ((url, init) => fetch(url, init));
  const contexts = new AccountContexts<AppleContext>('appleiap');
  for (const config of options.merchants) {
    const merchant = resolveMerchant(config);
    const account = accountOf('appleiap', merchant.merchantId, config.account);
    const environments: AppleEnvironment[] = merchant.acceptSandbox
      ? [merchant.environment, 'Sandbox']
      : [merchant.environment];
    const verifiers = environments.map(
      (environment) =>
        new AppleSignedDataVerifier(
          {
            rootCertificates: merchant.rootCertificates,
            bundleId: merchant.bundleId,
            ...(merchant.appAppleId !== undefined ? { appAppleId: merchant.appAppleId } : {}),
            environment,
          },
          now,
        ),
    );
    contexts.add(merchant.merchantId, account, {
      merchant,
      client: new AppleApiClient(merchant, fetchImpl, now),
      verifiers,
    });
  }
  const contextFor = (merchantId: string, account?: string) => contexts.get(merchantId, account);
  const orderToken = (merchantId: string, outTradeNo: string) =>
    appAccountTokenFor(merchantId, `order:${outTradeNo}`);

  /** Verified locally first when signed data is given, so its environment is the one asked. */
  async function verifyTransaction(
    merchantId: string,
    account: string | undefined,
    input: TransactionInput,
  ): Promise<StorePurchase> {
    const context = contextFor(merchantId, account);
    let transactionId = input.transactionId;
    let verifiers = context.verifiers;
    if (input.signedTransaction !== undefined) {
      const local = await verifyWithAny(context.verifiers, (v) =>
        v.verifyTransaction(String(input.signedTransaction)),
      );
      if (transactionId !== undefined && transactionId !== local.value.transactionId)
        throw new PayError(40001, {
          field: 'transaction_id',
          message: 'transaction_id is not the signed transaction',
        });
      transactionId = local.value.transactionId;
      verifiers = [local.verifier];
    }
    if (typeof transactionId !== 'string' || !TRANSACTION_ID_PATTERN.test(transactionId))
      throw new PayError(40001, {
        field: 'transaction_id',
        message: 'transaction_id must be 1 to 20 digits',
      });
    let notFound: PayError | null = null;
    for (const verifier of verifiers) {
      let answer: TransactionInfoResponse;
      try {
        answer = await context.client.get<TransactionInfoResponse>(
          verifier.environment,
          `/inApps/v1/transactions/${transactionId}`,
        );
      } catch (error) {
        // Apple's advice: a transaction the production host does not know may be the sandbox's.
        if (error instanceof PayError && error.code === 40005) {
          notFound = error;
          continue;
        }
        throw error;
      }
      const transaction = await verifier.verifyTransaction(answer.signedTransactionInfo);
      if (transaction.transactionId !== transactionId)
        throw new PayError(40002, {
          field: 'transaction_id',
          message: 'the App Store answered another transaction',
        });
      return purchaseOf(context.merchant, transaction);
    }
    throw notFound ?? new PayError(40005, { field: 'transaction_id' });
  }

  return {
    name: 'appleiap',
    identity: (merchantId, _scene, account) => ({
      mchId: contextFor(merchantId, account).merchant.bundleId,
      appId: null,
    }),
    createPayment: async (order) => {
      refusePaymentCode('appleiap', order);
      const { merchant } = contextFor(order.merchantId, order.account);
      const productId = order.other?.productId;
      const product = typeof productId === 'string' ? merchant.products.get(productId) : undefined;
      if (!product || typeof productId !== 'string')
        throw new PayError(40001, {
          field: 'other.productId',
          message: 'other.productId must name a configured product',
        });
      if (product.totalFen !== order.totalFen)
        throw new PayError(40001, {
          field: 'total_fee',
          message: `product ${productId} costs ${product.totalFen} fen, not ${order.totalFen}`,
        });
      return {
        client: { scene: 'app', productId, appAccountToken: orderToken(order.merchantId, order.outTradeNo) },
        raw: null,
      };
    },
    queryPayment: async (query) => {
      // The App Store finds purchases by transaction id only: without one, none was handed over yet.
      if (!query.transactionId) {
        const { merchant } = contextFor(query.merchantId, query.account);
        return {
          merchantId: query.merchantId,
          provider: 'appleiap',
          outTradeNo: query.outTradeNo,
          transactionId: null,
          amountFen: 0,
          status: 'NOTPAY',
          mchId: merchant.bundleId,
          appId: null,
          source: 'query',
          raw: null,
        };
      }
      const purchase = await verifyTransaction(query.merchantId, query.account, {
        transactionId: query.transactionId,
      });
      return paymentResultOf(
        query.merchantId,
        contextFor(query.merchantId, query.account).merchant,
        query.outTradeNo,
        purchase,
      );
    },
    // No order exists at the App Store before the buyer pays: there is nothing to close.
    closePayment: async () => 'absent',
    refund: async () => {
      throw new PayError(40001, {
        field: 'provider',
        message: 'App Store refunds are granted by Apple to the buyer; they arrive as REFUND notifications',
      });
    },
    queryRefund: async () => {
      throw new PayError(40005, { message: 'App Store refunds are known from notifications only' });
    },
    parseNotify: async (merchantId, _headers, rawBody, account) => {
      const context = contextFor(merchantId, account);
      return parseAppleNotify(context.merchant, context.verifiers, rawBody);
    },
    ackNotify: ackAppleNotify,
    merchantIds: () => contexts.merchantIds(),
    accounts: (merchantId) => contexts.accounts(merchantId),
    verifyTransaction,
    verifyReceipt: async (merchantId, account, input) => {
      const { merchant } = contextFor(merchantId, account);
      const verified = await verifyLegacyReceipt(merchant, fetchImpl, input.receipt);
      return purchaseOfReceipt(merchant, verified.environment, verified.entries, input.transactionId);
    },
    orderToken,
    requestTestNotification: async (merchantId, account) => {
      const context = contextFor(merchantId, account);
      const answer = await context.client.send<{ testNotificationToken?: unknown }>(
        'POST',
        context.merchant.environment,
        '/inApps/v1/notifications/test',
      );
      return String(answer.testNotificationToken ?? '');
    },
  };
}

/** The payment a verified purchase makes for one of our orders. */
export function paymentResultOf(
  merchantId: string,
  merchant: AppleIapMerchant,
  outTradeNo: string,
  purchase: StorePurchase,
): PaymentResult {
  return {
    merchantId,
    provider: 'appleiap',
    outTradeNo,
    transactionId: purchase.transactionId,
    amountFen: purchase.amountFen,
    status: purchase.revokedAt ? 'CLOSED' : 'SUCCESS',
    mchId: merchant.bundleId,
    appId: null,
    paidAt: purchase.paidAt,
    eventId: null,
    source: 'query',
    raw: purchase.raw,
  };
}

async function verifyWithAny<T>(
  verifiers: readonly AppleSignedDataVerifier[],
  verify: (verifier: AppleSignedDataVerifier) => Promise<T>,
): Promise<{ value: T; verifier: AppleSignedDataVerifier }> {
  let lastError: unknown;
  for (const verifier of verifiers) {
    try {
      return { value: await verify(verifier), verifier };
    } catch (error) {
      lastError = error;
      if (!(error instanceof PayError && error.gatewayCode === 'INVALID_ENVIRONMENT')) throw error;
    }
  }
  throw lastError;
}
