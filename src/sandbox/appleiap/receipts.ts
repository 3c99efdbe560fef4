/**
 * The legacy verifyReceipt endpoint (deprecated by Apple, still answered for old apps), on the
 * production host and the sandbox host as Apple has it: `POST /verifyReceipt {"receipt-data",
 * password?, "exclude-old-transactions"?}`, answered 200 with a `status` (0 valid; 21002 malformed,
 * 21003 not authenticated, 21004 wrong shared secret, 21007 a sandbox receipt sent to production,
 * 21008 the reverse). The receipts are the emulator's own: opaque base64 it issued for purchases
 * it made, each naming its app, environment and transactions.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { AppleEnvironment } from './apps.ts';
import type { AppleGateway, TransactionRecord } from './gateway.ts';

export interface ReceiptRecord {
  bundleId: string;
  environment: AppleEnvironment;
  transactionIds: string[];
  createdAt: number;
}

const RECEIPT_MAGIC = 'vkpay-appstore-receipt-v1:';
const RECEIPT_ID_PATTERN = /^[0-9a-f]{48}$/;
const BASE64_PATTERN = /^[A-Za-z0-9+/]+={0,2}$/;

/** Receipts the emulator issued, by id; what an app's receipt file would hold. */
export class ReceiptBook {
  readonly receipts = new Map<string, ReceiptRecord>();

  issue(record: ReceiptRecord): string {
    const id = randomBytes(24).toString('hex');
    this.receipts.set(id, record);
    return Buffer.from(`${RECEIPT_MAGIC}${id}`, 'utf8').toString('base64');
  }

  /** 'malformed' for what is not a receipt at all; null for a well-formed one never issued. */
  find(receiptData: unknown): ReceiptRecord | null | 'malformed' {
    if (typeof receiptData !== 'string' || receiptData.length > 4096 || !BASE64_PATTERN.test(receiptData))
      return 'malformed';
    const text = Buffer.from(receiptData, 'base64').toString('utf8');
    if (!text.startsWith(RECEIPT_MAGIC)) return 'malformed';
    const id = text.slice(RECEIPT_MAGIC.length);
    if (!RECEIPT_ID_PATTERN.test(id)) return 'malformed';
    return this.receipts.get(id) ?? null;
  }
}

export interface ReceiptRoutesOptions {
  gateway: AppleGateway;
  environment: AppleEnvironment;
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** One in_app / latest_receipt_info entry, in Apple's legacy field names (numbers as strings). */
function entryOf(record: TransactionRecord): Record<string, string> {
  const ms = (value: number) => String(value);
  const date = (value: number) =>
    new Date(value)
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d+Z$/, ' Etc/GMT');
  return {
    quantity: String(record.quantity),
    product_id: record.productId,
    transaction_id: record.transactionId,
    original_transaction_id: record.originalTransactionId,
    purchase_date: date(record.purchaseDate),
    purchase_date_ms: ms(record.purchaseDate),
    original_purchase_date: date(record.originalPurchaseDate),
    original_purchase_date_ms: ms(record.originalPurchaseDate),
    in_app_ownership_type: 'PURCHASED',
    is_trial_period: 'false',
    ...(record.expiresDate !== undefined
      ? {
          expires_date: date(record.expiresDate),
          expires_date_ms: ms(record.expiresDate),
          is_in_intro_offer_period: 'false',
        }
      : {}),
    ...(record.webOrderLineItemId ? { web_order_line_item_id: record.webOrderLineItemId } : {}),
    ...(record.subscriptionGroupIdentifier
      ? { subscription_group_identifier: record.subscriptionGroupIdentifier }
      : {}),
    ...(record.revocationDate !== undefined
      ? {
          cancellation_date: date(record.revocationDate),
          cancellation_date_ms: ms(record.revocationDate),
          cancellation_reason: String(record.revocationReason ?? 0),
        }
      : {}),
    ...(record.appAccountToken ? { app_account_token: record.appAccountToken } : {}),
  };
}

export async function receiptRoutes(app: FastifyInstance, options: ReceiptRoutesOptions): Promise<void> {
  const { gateway, environment } = options;
  // Apple reads the body as JSON whatever its content type says.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));

  app.post('/verifyReceipt', async (request) => {
    let body: unknown = request.body;
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body);
      } catch {
        return { status: 21002 };
      }
    }
    const input = (body ?? {}) as {
      'receipt-data'?: unknown;
      password?: unknown;
      'exclude-old-transactions'?: unknown;
    };
    const receipt = gateway.receipts.find(input['receipt-data']);
    if (receipt === 'malformed') return { status: 21002 };
    if (receipt === null) return { status: 21003 };
    if (receipt.environment !== environment)
      return { status: receipt.environment === 'Sandbox' ? 21007 : 21008, environment };
    const appRecord = gateway.apps.get(receipt.bundleId);
    if (!appRecord) return { status: 21003 };
    const transactions = receipt.transactionIds
      .map((id) => gateway.transactions.get(id))
      .filter((record): record is TransactionRecord => record !== undefined);
    const subscriptions = transactions.some((record) => record.type === 'Auto-Renewable Subscription');
    const password = input.password;
    if (
      password !== undefined &&
      (typeof password !== 'string' || !sameSecret(password, appRecord.sharedSecret))
    )
      return { status: 21004, environment };
    if (subscriptions && password === undefined) return { status: 21004, environment };
    const now = gateway.now();
    const answer: Record<string, unknown> = {
      status: 0,
      environment,
      receipt: {
        receipt_type: environment === 'Sandbox' ? 'ProductionSandbox' : 'Production',
        bundle_id: receipt.bundleId,
        application_version: '1',
        receipt_creation_date_ms: String(receipt.createdAt),
        request_date_ms: String(now),
        in_app: transactions.map(entryOf),
      },
    };
    if (subscriptions) {
      // Every transaction of the subscriptions on the receipt, renewals too, newest first.
      const originals = new Set(
        transactions
          .filter((record) => record.type === 'Auto-Renewable Subscription')
          .map((record) => record.originalTransactionId),
      );
      const latest = [...originals]
        .flatMap((original) => gateway.history(original))
        .sort((a, b) => b.purchaseDate - a.purchaseDate);
      answer.latest_receipt_info = (
        input['exclude-old-transactions'] === true ? latest.slice(0, 1) : latest
      ).map(entryOf);
      answer.latest_receipt = input['receipt-data'];
    }
    return answer;
  });
}
