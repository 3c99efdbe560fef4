/**
 * Sandbox buyers' payment codes (付款码), for the gateways where a counter scans the buyer's code:
 * issued through an emulator's control API with how the buyer behaves, single use, and valid for a
 * short time on the gateway's clock, as the code on a buyer's phone. Each emulator gives the shape
 * of its gateway's codes and words the refusals its own way. Codes are never written to state files.
 */

/**
 * `pay`: paid at once. `password`: the buyer must confirm (the gateway answers "paying") until the
 * control API pays the trade. `never`: waits like `password`, and the buyer never confirms.
 * `insufficient`: refused for lack of balance.
 */
export type CodeBehaviour = 'pay' | 'password' | 'never' | 'insufficient';
export const CODE_BEHAVIOURS: readonly CodeBehaviour[] = ['pay', 'password', 'never', 'insufficient'];
export const DEFAULT_CODE_TTL_SECONDS = 60;

export interface CodeShape {
  /** The first digits of the codes issued. */
  prefix: string;
  /** Their length, prefix included. */
  length: number;
  /** What the gateway accepts as a code of its own. */
  pattern: RegExp;
}

export interface PaymentCode<Buyer> {
  behaviour: CodeBehaviour;
  buyer: Buyer;
  expiresAt: number;
  used: boolean;
}

/** Why a presented code pays nothing: not a code of this gateway, unknown, spent, or expired. */
export type CodeRefusal = 'malformed' | 'unknown' | 'used' | 'expired';

export class CodeRequestError extends Error {}

export class PaymentCodeBook<Buyer> {
  private readonly codes = new Map<string, PaymentCode<Buyer>>();

  constructor(
    private readonly shape: CodeShape,
    private readonly now: () => number,
    private readonly digits: (count: number) => string,
  ) {}

  issue(input: { behaviour?: unknown; ttlSeconds?: unknown; buyer: Buyer }): {
    authCode: string;
    behaviour: CodeBehaviour;
    expiresAt: number;
  } {
    const behaviour = (input.behaviour ?? 'pay') as CodeBehaviour;
    if (!CODE_BEHAVIOURS.includes(behaviour))
      throw new CodeRequestError(`behaviour must be one of ${CODE_BEHAVIOURS.join('|')}`);
    const ttl = input.ttlSeconds ?? DEFAULT_CODE_TTL_SECONDS;
    if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1 || ttl > 3600)
      throw new CodeRequestError('ttlSeconds must be a whole number of seconds, 1 to 3600');
    const now = this.now();
    // Spent and expired codes go when new ones come: the book stays small.
    for (const [code, entry] of this.codes) if (entry.used || entry.expiresAt <= now) this.codes.delete(code);
    let authCode: string;
    do authCode = this.shape.prefix + this.digits(this.shape.length - this.shape.prefix.length);
    while (this.codes.has(authCode));
    const expiresAt = now + ttl * 1000;
    this.codes.set(authCode, { behaviour, buyer: input.buyer, expiresAt, used: false });
    return { authCode, behaviour, expiresAt };
  }

  /** Presents a code at the gateway: a good one is spent whatever the payment's outcome. */
  take(authCode: string): { code: PaymentCode<Buyer> } | { refused: CodeRefusal } {
    if (!this.shape.pattern.test(authCode)) return { refused: 'malformed' };
    const code = this.codes.get(authCode);
    if (!code) return { refused: 'unknown' };
    if (code.used) return { refused: 'used' };
    if (code.expiresAt <= this.now()) return { refused: 'expired' };
    code.used = true;
    return { code };
  }
}
