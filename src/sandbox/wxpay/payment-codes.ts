/**
 * The sandbox buyers' payment codes (付款码): what a buyer's WeChat shows at the counter. A code is
 * 18 digits starting 10..15, good for one payment and for about a minute, as the real ones. Each
 * code carries how its buyer behaves when the merchant sends it: pays at once, needs the password
 * (USERPAYING until confirmed), never confirms, or lacks the balance.
 */
import { randomAlphanumeric, randomDigits, type SandboxRuntime } from './runtime.ts';
import { invalidField, WxpayWireError } from './wire-errors.ts';

export const BUYER_BEHAVIOURS = ['pays', 'password', 'never', 'insufficient'] as const;
export type BuyerBehaviour = (typeof BUYER_BEHAVIOURS)[number];

/** How long a shown code may be scanned. */
export const PAYMENT_CODE_LIFETIME_MS = 60_000;
/** What a scanner reads from a WeChat payment code. */
export const WECHAT_CODE_PATTERN = /^1[0-5][0-9]{16}$/;

export interface PaymentCode {
  code: string;
  behaviour: BuyerBehaviour;
  openid: string;
  issuedAt: number;
  /** The trade that used it; a code pays once. */
  usedBy: string | undefined;
}

/** AUTH_CODE_INVALID for every code the gateway will not take; the wording follows the gateway's. */
function codeInvalid(message: string): WxpayWireError {
  return new WxpayWireError(400, 'AUTH_CODE_INVALID', message);
}

export class PaymentCodeBook {
  private readonly codes = new Map<string, PaymentCode>();

  constructor(private readonly runtime: SandboxRuntime) {}

  /** A new code for a sandbox buyer. */
  issue(behaviour: unknown = 'pays', openid?: unknown): PaymentCode {
    if (!(BUYER_BEHAVIOURS as readonly unknown[]).includes(behaviour))
      throw invalidField('behaviour', behaviour, `取值应为${BUYER_BEHAVIOURS.join('|')}`);
    let code: string;
    do {
      const prefix = 10 + (this.runtime.random(1)[0]! % 6);
      code = `${prefix}${randomDigits(this.runtime.random, 16)}`;
    } while (this.codes.has(code));
    const issued: PaymentCode = {
      code,
      behaviour: behaviour as BuyerBehaviour,
      openid:
        typeof openid === 'string' && openid
          ? openid
          : `oSandbox${randomAlphanumeric(this.runtime.random, 20)}`,
      issuedAt: this.runtime.clock.now(),
      usedBy: undefined,
    };
    this.codes.set(code, issued);
    return issued;
  }

  /** The code a payment may use now: well formed, issued, unused and fresh. */
  usable(code: string): PaymentCode {
    if (!WECHAT_CODE_PATTERN.test(code))
      throw codeInvalid('请扫描微信支付授权码(以10/11/12/13/14/15为前缀的18位数字)');
    const found = this.codes.get(code);
    if (!found) throw codeInvalid('101 付款码无效，请重新扫码');
    if (found.usedBy !== undefined) throw codeInvalid('101 每个二维码仅限使用一次，请刷新再试');
    if (this.runtime.clock.now() - found.issuedAt > PAYMENT_CODE_LIFETIME_MS)
      throw codeInvalid('101 付款码已过期，请退出重试');
    return found;
  }

  /** The code paid (or started paying) this trade: it cannot be used again. */
  use(code: PaymentCode, tradeKey: string): void {
    code.usedBy = tradeKey;
  }

  view(code: PaymentCode): Record<string, unknown> {
    return {
      auth_code: code.code,
      behaviour: code.behaviour,
      openid: code.openid,
      expires_at: new Date(code.issuedAt + PAYMENT_CODE_LIFETIME_MS).toISOString(),
      used: code.usedBy !== undefined,
    };
  }
}
