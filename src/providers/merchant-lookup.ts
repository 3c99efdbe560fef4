/**
 * A provider's configured contexts, keyed by our merchant and one of its gateway accounts, with one
 * error for an unknown merchant or account. A merchant's first account is `default`.
 */
import { PayError } from '../core/errors.ts';

export const DEFAULT_ACCOUNT = 'default';

/** Account ids are short names that appear in notify URLs and order rows. */
const ACCOUNT_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

/** The account of a configured merchant entry: `default` when it names none; 40003 when malformed. */
export function accountOf(provider: string, merchantId: string, account: unknown): string {
  if (account === undefined || account === null) return DEFAULT_ACCOUNT;
  if (typeof account !== 'string' || !ACCOUNT_PATTERN.test(account)) {
    throw new PayError(40003, {
      field: 'account',
      message: `${provider} merchant ${merchantId}: account must be 1 to 32 letters, digits, _ or -`,
    });
  }
  return account;
}

export class AccountContexts<T> {
  private readonly byMerchant = new Map<string, Map<string, T>>();

  constructor(private readonly provider: string) {}

  add(merchantId: string, account: string, context: T): void {
    let accounts = this.byMerchant.get(merchantId);
    if (!accounts) {
      accounts = new Map();
      this.byMerchant.set(merchantId, accounts);
    }
    if (accounts.has(account)) {
      throw new PayError(40003, {
        field: 'merchantId',
        message:
          account === DEFAULT_ACCOUNT
            ? `${this.provider} merchant ${merchantId} is configured twice`
            : `${this.provider} merchant ${merchantId} account ${account} is configured twice`,
      });
    }
    accounts.set(account, context);
  }

  /** The context of a merchant's account; the `default` one when no account is named. */
  get(merchantId: string, account: string = DEFAULT_ACCOUNT): T {
    const accounts = this.byMerchant.get(merchantId);
    if (!accounts) {
      throw new PayError(40001, {
        field: 'merchantId',
        message: `no ${this.provider} merchant ${JSON.stringify(String(merchantId).slice(0, 64))} is configured`,
      });
    }
    const context = accounts.get(account);
    if (!context) {
      throw new PayError(40001, {
        field: 'account',
        message: `${this.provider} merchant ${merchantId} has no account ${JSON.stringify(String(account).slice(0, 64))}`,
      });
    }
    return context;
  }

  has(merchantId: string, account: string = DEFAULT_ACCOUNT): boolean {
    return this.byMerchant.get(merchantId)?.has(account) ?? false;
  }

  merchantIds(): string[] {
    return [...this.byMerchant.keys()];
  }

  accounts(merchantId: string): string[] {
    return [...(this.byMerchant.get(merchantId)?.keys() ?? [])];
  }
}
