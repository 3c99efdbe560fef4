/**
 * The legacy verifyReceipt endpoint, deprecated by Apple and kept for old apps (StoreKit 1) that
 * only have the app receipt: the receipt is posted with the app-specific shared secret to the
 * production host first, then to the sandbox when production answers 21007 (a sandbox receipt,
 * as App Review's); the answer's in_app and latest_receipt_info entries are the purchases. One
 * entry, the one named or the newest, becomes a StorePurchase, applied as a StoreKit 2
 * transaction is.
 */
import { PayError } from '../../core/errors.ts';
import type { StorePurchase } from '../provider.ts';
import type { AppleFetch } from './api-client.ts';
import type { AppleIapMerchant } from './config.ts';
import type { AppleEnvironment } from './signed-data.ts';

/** One in_app / latest_receipt_info entry: Apple writes numbers and dates as strings. */
export interface LegacyReceiptEntry {
  quantity?: string;
  product_id?: string;
  transaction_id?: string;
  original_transaction_id?: string;
  purchase_date_ms?: string;
  expires_date_ms?: string;
  cancellation_date_ms?: string;
  app_account_token?: string;
}

interface VerifyReceiptAnswer {
  status?: unknown;
  environment?: unknown;
  receipt?: { bundle_id?: unknown; in_app?: unknown };
  latest_receipt_info?: unknown;
}

/** Base64 as Apple's receipts are, up to 512 KiB. */
const RECEIPT_PATTERN = /^[A-Za-z0-9+/]+={0,2}$/;
export const MAX_RECEIPT_LENGTH = 524_288;
const DIGITS = /^[0-9]{1,20}$/;

/** verifyReceipt statuses -> the unified table. */
function receiptError(status: number): PayError {
  const gatewayCode = String(status);
  if (status === 21002 || status === 21000)
    return new PayError(40001, {
      field: 'receipt',
      gatewayCode,
      message: 'the App Store could not read the receipt',
    });
  if (status === 21003)
    return new PayError(40002, {
      field: 'receipt',
      gatewayCode,
      message: 'the App Store could not authenticate the receipt',
    });
  if (status === 21004)
    return new PayError(40003, {
      gatewayCode,
      message: "the App Store refused the app's shared secret; check sharedSecret",
    });
  if (status === 21007)
    return new PayError(40001, {
      field: 'receipt',
      gatewayCode,
      message: 'a sandbox receipt; this app takes production purchases only',
    });
  if (status === 21008)
    return new PayError(40001, {
      field: 'receipt',
      gatewayCode,
      message: 'a production receipt sent to a sandbox app',
    });
  if (status === 21010)
    return new PayError(40001, {
      field: 'receipt',
      gatewayCode,
      message: 'the App Store has no such user account',
    });
  if (status === 21005 || status === 21009 || (status >= 21100 && status <= 21199))
    return new PayError(40010, {
      gatewayCode,
      message: 'the App Store could not verify the receipt now; retry',
    });
  return new PayError(50000, { gatewayCode, message: `verifyReceipt answered status ${status}` });
}

async function postReceipt(
  merchant: AppleIapMerchant,
  fetchImpl: AppleFetch,
  environment: AppleEnvironment,
  receipt: string,
): Promise<VerifyReceiptAnswer> {
  let status: number;
  let text: string;
  try {
    const response = await fetchImpl(`${merchant.receiptUrls[environment]}/verifyReceipt`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({
        'receipt-data': receipt,
        ...(merchant.sharedSecret ? { password: merchant.sharedSecret } : {}),
        'exclude-old-transactions': false,
      }),
      signal: AbortSignal.timeout(merchant.timeoutMs),
    });
    status = response.status;
    text = await response.text();
  } catch (cause) {
    throw new PayError(40004, {
      message: 'App Store verifyReceipt unreachable',
      cause,
      outcomeUnknown: false,
    });
  }
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    // Below: not an answer.
  }
  if (
    status !== 200 ||
    body === null ||
    typeof body !== 'object' ||
    typeof (body as VerifyReceiptAnswer).status !== 'number'
  )
    throw new PayError(status >= 500 ? 40010 : 50000, {
      gatewayCode: `HTTP_${status}`,
      message: 'App Store verifyReceipt: unreadable answer',
    });
  return body as VerifyReceiptAnswer;
}

/** The receipt's purchases as Apple verified them (every entry, deduplicated by transaction id). */
export async function verifyLegacyReceipt(
  merchant: AppleIapMerchant,
  fetchImpl: AppleFetch,
  receipt: unknown,
): Promise<{ environment: AppleEnvironment; entries: LegacyReceiptEntry[] }> {
  if (
    typeof receipt !== 'string' ||
    receipt.length === 0 ||
    receipt.length > MAX_RECEIPT_LENGTH ||
    !RECEIPT_PATTERN.test(receipt)
  )
    throw new PayError(40001, {
      field: 'receipt',
      message: 'receipt must be the base64 app receipt (at most 512 KiB)',
    });
  const environments: AppleEnvironment[] =
    merchant.environment === 'Sandbox'
      ? ['Sandbox']
      : merchant.acceptSandbox
        ? ['Production', 'Sandbox']
        : ['Production'];
  for (const [index, environment] of environments.entries()) {
    const answer = await postReceipt(merchant, fetchImpl, environment, receipt);
    const status = answer.status as number;
    // Apple's advice: production first; 21007 means the sandbox's, ask there.
    if (status === 21007 && environments[index + 1] === 'Sandbox') continue;
    if (status !== 0) throw receiptError(status);
    if (answer.receipt?.bundle_id !== merchant.bundleId)
      throw new PayError(40001, {
        field: 'receipt',
        gatewayCode: 'INVALID_APP_IDENTIFIER',
        message: "the receipt is another app's",
      });
    const entries = new Map<string, LegacyReceiptEntry>();
    for (const list of [answer.receipt.in_app, answer.latest_receipt_info]) {
      if (!Array.isArray(list)) continue;
      for (const entry of list as LegacyReceiptEntry[]) {
        if (entry && typeof entry.transaction_id === 'string' && DIGITS.test(entry.transaction_id))
          entries.set(entry.transaction_id, entry);
      }
    }
    return { environment, entries: [...entries.values()] };
  }
  throw receiptError(21007);
}

/**
 * The purchase of one receipt entry: `transactionId`'s, or the newest one of a configured product
 * (the purchase just made, when an old app sends its receipt after buying).
 */
export function purchaseOfReceipt(
  merchant: AppleIapMerchant,
  environment: AppleEnvironment,
  entries: LegacyReceiptEntry[],
  transactionId?: string,
): StorePurchase {
  let entry: LegacyReceiptEntry | undefined;
  if (transactionId !== undefined) {
    entry = entries.find((candidate) => candidate.transaction_id === transactionId);
    if (!entry)
      throw new PayError(40005, {
        field: 'transaction_id',
        message: 'the receipt holds no such transaction',
      });
  } else {
    entry = entries
      .filter((candidate) => merchant.products.has(String(candidate.product_id)))
      .sort((a, b) => Number(b.purchase_date_ms ?? 0) - Number(a.purchase_date_ms ?? 0))[0];
    if (!entry)
      throw new PayError(40001, {
        field: 'receipt',
        message: 'the receipt holds no purchase of a configured product',
      });
  }
  const product = merchant.products.get(String(entry.product_id));
  if (!product)
    throw new PayError(40001, {
      field: 'productId',
      message: `product ${JSON.stringify(String(entry.product_id).slice(0, 100))} is not configured for this app`,
    });
  const quantity = Number(entry.quantity ?? '1');
  const paidAt = Number(entry.purchase_date_ms);
  const cancelledAt = entry.cancellation_date_ms === undefined ? null : Number(entry.cancellation_date_ms);
  const id = String(entry.transaction_id);
  return {
    transactionId: id,
    originalTransactionId:
      typeof entry.original_transaction_id === 'string' && DIGITS.test(entry.original_transaction_id)
        ? entry.original_transaction_id
        : id,
    productId: String(entry.product_id),
    amountFen: product.totalFen * (Number.isSafeInteger(quantity) && quantity > 0 ? quantity : 1),
    orderType: product.type,
    appAccountToken:
      typeof entry.app_account_token === 'string' ? entry.app_account_token.toLowerCase() : null,
    renewal: typeof entry.original_transaction_id === 'string' && entry.original_transaction_id !== id,
    paidAt: new Date(Number.isFinite(paidAt) ? paidAt : Date.now()),
    revokedAt: cancelledAt !== null && Number.isFinite(cancelledAt) ? new Date(cancelledAt) : null,
    environment,
    raw: { source: 'verifyReceipt', ...entry },
  };
}
