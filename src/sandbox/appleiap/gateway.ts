/**
 * The App Store emulator's state and what happens to it: apps, transactions (a purchase, a
 * renewal, a refund and its reversal, a revocation, an expiry) and the signed notifications V2 each
 * of those sends to the app's URL for its environment.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { GatewayScheduler } from '../shared/scheduler.ts';
import {
  type AppCredentials,
  type AppleEnvironment,
  type AppRecord,
  type AppRegistration,
  createApp,
  type Product,
} from './apps.ts';
import { type NotificationRecord, Notifier } from './notifier.ts';
import { ReceiptBook } from './receipts.ts';
import { signAppleJws } from './signing.ts';
import { AppleTestCa } from './test-ca.ts';

export interface AppleGatewayOptions {
  /** Milliseconds since the epoch; every date the emulator writes reads it. */
  now?: () => number;
  /** Multiplies notification retry delays; 1 is real time, 0.001 suits tests. */
  timeFactor?: number;
  /** An existing CA (to keep one across restarts); one is generated otherwise. */
  ca?: AppleTestCa;
}

export interface TransactionRecord {
  transactionId: string;
  originalTransactionId: string;
  bundleId: string;
  productId: string;
  type: Product['type'];
  purchaseDate: number;
  originalPurchaseDate: number;
  expiresDate?: number;
  quantity: number;
  appAccountToken?: string;
  environment: AppleEnvironment;
  transactionReason: 'PURCHASE' | 'RENEWAL';
  price: number;
  currency: string;
  webOrderLineItemId?: string;
  subscriptionGroupIdentifier?: string;
  revocationDate?: number;
  revocationReason?: number;
  /** Auto-renewable: renewal turned off and the period ran out. */
  expired?: boolean;
}

export interface PurchaseInput {
  bundleId: string;
  productId: string;
  environment?: AppleEnvironment;
  appAccountToken?: string;
  quantity?: number;
}

const DAY_MS = 86_400_000;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class AppleGateway {
  readonly apps = new Map<string, AppRecord>();
  readonly transactions = new Map<string, TransactionRecord>();
  readonly now: () => number;
  readonly notifier: Notifier;
  /** Receipts issued for the legacy verifyReceipt endpoint. */
  readonly receipts = new ReceiptBook();
  private readonly scheduler: GatewayScheduler;
  private sequence = 0;

  private constructor(
    readonly ca: AppleTestCa,
    options: AppleGatewayOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.scheduler = new GatewayScheduler(options.timeFactor ?? 1);
    this.notifier = new Notifier(this.scheduler, this.now);
  }

  static async create(options: AppleGatewayOptions = {}): Promise<AppleGateway> {
    return new AppleGateway(options.ca ?? (await AppleTestCa.create(options.now)), options);
  }

  stop(): void {
    this.scheduler.stop();
  }

  registerApp(input: AppRegistration): AppCredentials {
    const { app, credentials } = createApp(input);
    this.apps.set(app.bundleId, app);
    return credentials;
  }

  /** Sandbox transaction ids start with 2, production ones with 1, 15-16 digits as Apple's. */
  private nextTransactionId(environment: AppleEnvironment): string {
    this.sequence += 1;
    const head = environment === 'Sandbox' ? '2000000' : '1000000';
    return `${head}${String(randomInt(10_000_000, 99_999_999))}${String(this.sequence % 10)}`;
  }

  /**
   * A buyer buys a product: the signed transaction is what StoreKit 2 hands the app. The App Store
   * tells the app's server too: SUBSCRIBED / INITIAL_BUY for a subscription's first purchase,
   * ONE_TIME_CHARGE for anything else.
   */
  purchase(input: PurchaseInput): {
    transaction: TransactionRecord;
    notification: NotificationRecord;
    receipt: string;
  } {
    const transaction = this.makePurchase(input);
    const notification =
      transaction.type === 'Auto-Renewable Subscription'
        ? this.notify(transaction, 'SUBSCRIBED', 'INITIAL_BUY')
        : this.notify(transaction, 'ONE_TIME_CHARGE');
    return { transaction, notification, receipt: this.receiptFor([transaction.transactionId]) };
  }

  /**
   * The app's receipt (legacy StoreKit 1) holding these transactions of one app and environment,
   * base64 as the app reads it from its bundle; verifyReceipt knows it.
   */
  receiptFor(transactionIds: string[]): string {
    const records = transactionIds.map((id) => this.requireTransaction(id));
    const first = records[0];
    if (!first) throw new Error('a receipt holds at least one transaction');
    if (records.some((r) => r.bundleId !== first.bundleId || r.environment !== first.environment))
      throw new Error("a receipt holds one app's transactions of one environment");
    return this.receipts.issue({
      bundleId: first.bundleId,
      environment: first.environment,
      transactionIds: records.map((r) => r.transactionId),
      createdAt: this.now(),
    });
  }

  /**
   * The buyer subscribes again after the subscription expired: a new purchase of the same
   * original transaction, SUBSCRIBED / RESUBSCRIBE.
   */
  resubscribe(transactionId: string): { transaction: TransactionRecord; notification: NotificationRecord } {
    const current = this.requireTransaction(transactionId);
    if (current.type !== 'Auto-Renewable Subscription') throw new Error('only subscriptions resubscribe');
    const latest = this.latestOf(current.originalTransactionId) ?? current;
    if (!latest.expired && (latest.expiresDate ?? 0) > this.now())
      throw new Error('the subscription is still active');
    const app = this.requireApp(latest.bundleId);
    const periodMs = (app.products.get(latest.productId)?.periodDays ?? 30) * DAY_MS;
    const now = Math.max(this.now(), latest.purchaseDate + 1);
    const again: TransactionRecord = {
      ...latest,
      transactionId: this.nextTransactionId(latest.environment),
      purchaseDate: now,
      expiresDate: now + periodMs,
      transactionReason: 'PURCHASE',
      webOrderLineItemId: this.nextTransactionId(latest.environment),
      revocationDate: undefined,
      revocationReason: undefined,
      expired: false,
    };
    this.transactions.set(again.transactionId, again);
    return { transaction: again, notification: this.notify(again, 'SUBSCRIBED', 'RESUBSCRIBE') };
  }

  private makePurchase(input: PurchaseInput): TransactionRecord {
    const app = this.apps.get(input.bundleId);
    if (!app) throw new Error(`no app ${input.bundleId}`);
    const product = app.products.get(input.productId);
    if (!product) throw new Error(`no product ${input.productId} in ${input.bundleId}`);
    if (input.appAccountToken !== undefined && !UUID_PATTERN.test(input.appAccountToken))
      throw new Error('appAccountToken must be a UUID');
    const environment = input.environment ?? 'Sandbox';
    const now = this.now();
    const transactionId = this.nextTransactionId(environment);
    const subscription = product.type === 'Auto-Renewable Subscription';
    const record: TransactionRecord = {
      transactionId,
      originalTransactionId: transactionId,
      bundleId: app.bundleId,
      productId: product.productId,
      type: product.type,
      purchaseDate: now,
      originalPurchaseDate: now,
      quantity: input.quantity ?? 1,
      environment,
      transactionReason: 'PURCHASE',
      price: product.price * (input.quantity ?? 1),
      currency: product.currency,
      ...(input.appAccountToken ? { appAccountToken: input.appAccountToken } : {}),
      ...(subscription
        ? {
            expiresDate: now + (product.periodDays ?? 30) * DAY_MS,
            webOrderLineItemId: this.nextTransactionId(environment),
            subscriptionGroupIdentifier: product.subscriptionGroupIdentifier,
          }
        : {}),
    };
    this.transactions.set(transactionId, record);
    return record;
  }

  /** The latest transaction of a subscription (or the one transaction of anything else). */
  latestOf(originalTransactionId: string): TransactionRecord | undefined {
    let latest: TransactionRecord | undefined;
    for (const record of this.transactions.values()) {
      if (record.originalTransactionId !== originalTransactionId) continue;
      if (!latest || record.purchaseDate >= latest.purchaseDate) latest = record;
    }
    return latest;
  }

  history(originalTransactionId: string): TransactionRecord[] {
    return [...this.transactions.values()]
      .filter((record) => record.originalTransactionId === originalTransactionId)
      .sort((a, b) => a.purchaseDate - b.purchaseDate);
  }

  /** A subscription renews: a new transaction of the same original, and DID_RENEW. */
  renew(transactionId: string): { transaction: TransactionRecord; notification: NotificationRecord } {
    const current = this.requireTransaction(transactionId);
    if (current.type !== 'Auto-Renewable Subscription') throw new Error('only subscriptions renew');
    const latest = this.latestOf(current.originalTransactionId) ?? current;
    const app = this.requireApp(latest.bundleId);
    const periodMs = (app.products.get(latest.productId)?.periodDays ?? 30) * DAY_MS;
    const start = Math.max(this.now(), latest.expiresDate ?? this.now());
    const renewed: TransactionRecord = {
      ...latest,
      transactionId: this.nextTransactionId(latest.environment),
      purchaseDate: start,
      expiresDate: start + periodMs,
      transactionReason: 'RENEWAL',
      webOrderLineItemId: this.nextTransactionId(latest.environment),
      revocationDate: undefined,
      revocationReason: undefined,
      expired: false,
    };
    this.transactions.set(renewed.transactionId, renewed);
    return { transaction: renewed, notification: this.notify(renewed, 'DID_RENEW') };
  }

  /** Apple refunds the buyer: revocationDate set, REFUND sent. */
  refund(transactionId: string, reason = 0): NotificationRecord {
    const record = this.requireTransaction(transactionId);
    record.revocationDate = this.now();
    record.revocationReason = reason;
    return this.notify(record, 'REFUND');
  }

  /** Apple reverses a refund it granted: the revocation is gone, REFUND_REVERSED sent. */
  reverseRefund(transactionId: string): NotificationRecord {
    const record = this.requireTransaction(transactionId);
    if (record.revocationDate === undefined) throw new Error('the transaction is not refunded');
    record.revocationDate = undefined;
    record.revocationReason = undefined;
    return this.notify(record, 'REFUND_REVERSED');
  }

  /** Family Sharing access ends: REVOKE. */
  revoke(transactionId: string): NotificationRecord {
    const record = this.requireTransaction(transactionId);
    record.revocationDate = this.now();
    record.revocationReason = 0;
    return this.notify(record, 'REVOKE');
  }

  /** The subscription ran out after the buyer turned renewal off: EXPIRED / VOLUNTARY. */
  expire(transactionId: string): NotificationRecord {
    const record = this.latestOf(this.requireTransaction(transactionId).originalTransactionId);
    if (record?.type !== 'Auto-Renewable Subscription') throw new Error('only subscriptions expire');
    record.expired = true;
    record.expiresDate = Math.min(record.expiresDate ?? this.now(), this.now());
    return this.notify(record, 'EXPIRED', 'VOLUNTARY');
  }

  /** POST /inApps/v1/notifications/test: a TEST notification, and its token. */
  sendTest(app: AppRecord, environment: AppleEnvironment): NotificationRecord {
    return this.notifier.send(app.notificationUrls[environment], {
      payload: this.notificationPayload(app, environment, 'TEST'),
      environment,
      ca: this.ca,
    });
  }

  signedTransaction(record: TransactionRecord): string {
    const { expired: _expired, subscriptionGroupIdentifier, ...fields } = record;
    return signAppleJws(
      {
        ...fields,
        ...(subscriptionGroupIdentifier ? { subscriptionGroupIdentifier } : {}),
        inAppOwnershipType: 'PURCHASED',
        storefront: 'CHN',
        storefrontId: '143465',
        signedDate: this.now(),
      },
      this.ca.signingChain,
    );
  }

  signedRenewalInfo(record: TransactionRecord): string {
    return signAppleJws(
      {
        originalTransactionId: record.originalTransactionId,
        autoRenewProductId: record.productId,
        productId: record.productId,
        autoRenewStatus: record.expired ? 0 : 1,
        recentSubscriptionStartDate: record.originalPurchaseDate,
        renewalDate: record.expiresDate,
        environment: record.environment,
        signedDate: this.now(),
      },
      this.ca.signingChain,
    );
  }

  /** Subscription status as the Server API reports it: 1 active, 2 expired, 5 revoked. */
  subscriptionStatus(record: TransactionRecord): number {
    if (record.revocationDate !== undefined) return 5;
    if (record.expired || (record.expiresDate ?? 0) <= this.now()) return 2;
    return 1;
  }

  private notificationPayload(
    app: AppRecord,
    environment: AppleEnvironment,
    notificationType: string,
    subtype?: string,
    record?: TransactionRecord,
  ): Record<string, unknown> {
    return {
      notificationType,
      ...(subtype ? { subtype } : {}),
      notificationUUID: randomUUID(),
      version: '2.0',
      signedDate: this.now(),
      data: {
        appAppleId: app.appAppleId,
        bundleId: app.bundleId,
        bundleVersion: '1',
        environment,
        ...(record
          ? {
              signedTransactionInfo: this.signedTransaction(record),
              ...(record.type === 'Auto-Renewable Subscription'
                ? {
                    signedRenewalInfo: this.signedRenewalInfo(record),
                    status: this.subscriptionStatus(record),
                  }
                : {}),
            }
          : {}),
      },
    };
  }

  private notify(record: TransactionRecord, type: string, subtype?: string): NotificationRecord {
    const app = this.requireApp(record.bundleId);
    return this.notifier.send(app.notificationUrls[record.environment], {
      payload: this.notificationPayload(app, record.environment, type, subtype, record),
      environment: record.environment,
      ca: this.ca,
    });
  }

  requireTransaction(transactionId: string): TransactionRecord {
    const record = this.transactions.get(transactionId);
    if (!record) throw new Error(`no transaction ${transactionId}`);
    return record;
  }

  private requireApp(bundleId: string): AppRecord {
    const app = this.apps.get(bundleId);
    if (!app) throw new Error(`no app ${bundleId}`);
    return app;
  }
}
