/**
 * Validation of payment parameters at the edge. Every problem is reported at once, so a developer
 * fixes a request in one round trip, not one field at a time.
 */
import { PayError } from './errors.ts';
import { DEFAULT_MAX_FEN, type Fen, fenProblem } from './money.ts';

export const PROVIDERS = ['wxpay', 'alipay', 'appleiap', 'wxpay-virtual', 'douyin'] as const;
export type ProviderName = (typeof PROVIDERS)[number];
/** The gateways a browser pays at, which the cashier offers: an App Store purchase is made in the app. */
export const CHECKOUT_PROVIDERS = ['wxpay', 'alipay'] as const;
export type CheckoutProviderName = (typeof CHECKOUT_PROVIDERS)[number];

/**
 * Payment scenes: mini program, official-account web page, app, mobile browser, PC QR code, PC page,
 * and the counter's scan of the buyer's payment code (`micropay`, with `auth_code`).
 */
export const SCENES = ['miniprogram', 'jsapi', 'app', 'h5', 'native', 'pc', 'micropay'] as const;
export type Scene = (typeof SCENES)[number];

export const BUILTIN_ORDER_TYPES = ['recharge', 'goods', 'vip', 'custom'] as const;

export const OUT_TRADE_NO_PATTERN = /^[0-9A-Za-z_\-*]{6,32}$/;
/**
 * How long an order may stay payable, in seconds: WeChat Pay asks for at least a minute, and
 * Alipay's timeout_express goes from 1m to 15d.
 */
export const MIN_EXPIRE_SECONDS = 60;
export const MAX_EXPIRE_SECONDS = 15 * 86_400;
/** Longest user_id or openid kept with an order. */
export const MAX_ID_LENGTH = 128;
const ORDER_TYPE_PATTERN = /^[a-z][a-z0-9_-]{0,31}$/;
/**
 * The buyer's payment code as a scanner reads it: WeChat's 18 digits (10..15 first), Alipay's 16 to
 * 24 (25..30 first); other gateways' codes are digits too. Used for one call, never stored or logged.
 */
export const AUTH_CODE_PATTERN = /^[0-9]{10,32}$/;

export interface ValidationRules {
  maxFen: Fen;
  /** Order types with a handler: the built-in four plus the merchant's own. */
  orderTypes: readonly string[];
  providers: readonly string[];
  scenes: readonly string[];
  /** Largest serialised `custom` object, in bytes of UTF-8. */
  maxCustomBytes: number;
}

export const DEFAULT_RULES: ValidationRules = {
  maxFen: DEFAULT_MAX_FEN,
  orderTypes: BUILTIN_ORDER_TYPES,
  providers: PROVIDERS,
  scenes: SCENES,
  maxCustomBytes: 4096,
};

export interface Problem {
  field: string;
  message: string;
}

/** What a merchant sends to create a payment, in wire names. */
export interface PaymentInput {
  out_trade_no?: unknown;
  total_fee?: unknown;
  subject?: unknown;
  type?: unknown;
  provider?: unknown;
  scene?: unknown;
  custom?: unknown;
  user_id?: unknown;
  openid?: unknown;
  /** The buyer's payment code, for the `micropay` scene only. */
  auth_code?: unknown;
}

export interface PaymentParams {
  outTradeNo: string;
  totalFen: Fen;
  subject: string;
  type: string;
  provider: ProviderName;
  scene: Scene;
  custom: Record<string, unknown>;
  userId: string | null;
  openid: string | null;
  /** The buyer's payment code (`micropay` only): passed to the gateway call, never stored. */
  authCode: string | null;
}

export function isOrderTypeName(value: string): boolean {
  return ORDER_TYPE_PATTERN.test(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function optionalId(input: unknown, field: string, problems: Problem[]): string | null {
  if (input === undefined || input === null || input === '') return null;
  if (typeof input !== 'string' || input.length > MAX_ID_LENGTH) {
    problems.push({ field, message: `${field} must be a string of at most ${MAX_ID_LENGTH} characters` });
    return null;
  }
  return input;
}

/** One 40001 listing every problem; the first one names the field. */
export function problemsError(problems: readonly Problem[]): PayError {
  return new PayError(40001, {
    field: problems[0]?.field,
    message: problems.map((p) => p.message).join('; '),
    details: { problems },
  });
}

/** Checks a create-payment request; throws one 40001 listing every problem, or returns typed params. */
export function validatePaymentInput(
  input: PaymentInput,
  rules: ValidationRules = DEFAULT_RULES,
): PaymentParams {
  const { params, problems } = checkPaymentInput(input, rules);
  if (problems.length > 0) throw problemsError(problems);
  return params;
}

/** Every problem of a create-payment request, without throwing (for callers that add their own). */
export function paymentProblems(input: PaymentInput, rules: ValidationRules = DEFAULT_RULES): Problem[] {
  return checkPaymentInput(input, rules).problems;
}

function checkPaymentInput(
  input: PaymentInput,
  rules: ValidationRules,
): { params: PaymentParams; problems: Problem[] } {
  const problems: Problem[] = [];
  const { out_trade_no, total_fee, subject, type, provider, scene, custom } = input;

  if (typeof out_trade_no !== 'string' || !OUT_TRADE_NO_PATTERN.test(out_trade_no)) {
    problems.push({
      field: 'out_trade_no',
      message: 'out_trade_no must be 6 to 32 characters of 0-9 A-Z a-z _ - *',
    });
  }
  const amountProblem = fenProblem(total_fee, rules.maxFen);
  if (amountProblem !== null) problems.push({ field: 'total_fee', message: `total_fee ${amountProblem}` });

  if (typeof subject !== 'string' || [...subject.trim()].length < 2 || [...subject].length > 127) {
    problems.push({ field: 'subject', message: 'subject must be 2 to 127 characters' });
  }
  if (typeof type !== 'string' || !rules.orderTypes.includes(type)) {
    problems.push({ field: 'type', message: `type must be one of ${rules.orderTypes.join(', ')}` });
  }
  if (typeof provider !== 'string' || !rules.providers.includes(provider)) {
    problems.push({ field: 'provider', message: `provider must be one of ${rules.providers.join(', ')}` });
  }
  if (typeof scene !== 'string' || !rules.scenes.includes(scene)) {
    problems.push({ field: 'scene', message: `scene must be one of ${rules.scenes.join(', ')}` });
  }
  let customObject: Record<string, unknown> = {};
  if (custom !== undefined && custom !== null) {
    if (!isPlainObject(custom)) {
      problems.push({ field: 'custom', message: 'custom must be a JSON object' });
    } else {
      let size = Number.POSITIVE_INFINITY;
      try {
        size = new TextEncoder().encode(JSON.stringify(custom)).length;
      } catch {
        // Cycles and BigInts cannot be stored as JSON; the size check below reports them.
      }
      if (size > rules.maxCustomBytes) {
        problems.push({
          field: 'custom',
          message: `custom must be JSON of at most ${rules.maxCustomBytes} bytes`,
        });
      } else {
        customObject = custom;
      }
    }
  }
  const userId = optionalId(input.user_id, 'user_id', problems);
  const openid = optionalId(input.openid, 'openid', problems);
  const authCode = authCodeOf(input.auth_code, scene, problems);
  const params: PaymentParams = {
    outTradeNo: out_trade_no as string,
    totalFen: total_fee as Fen,
    subject: typeof subject === 'string' ? subject.trim() : '',
    type: type as string,
    provider: provider as ProviderName,
    scene: scene as Scene,
    custom: customObject,
    userId,
    openid,
    authCode,
  };
  return { params, problems };
}

/** A payment code comes with the `micropay` scene, and that scene needs one. */
function authCodeOf(input: unknown, scene: unknown, problems: Problem[]): string | null {
  const given = input !== undefined && input !== null && input !== '';
  if (scene !== 'micropay') {
    if (given) problems.push({ field: 'auth_code', message: 'auth_code is for the micropay scene only' });
    return null;
  }
  if (typeof input !== 'string' || !AUTH_CODE_PATTERN.test(input)) {
    problems.push({
      field: 'auth_code',
      message: "auth_code must be the buyer's payment code: 10 to 32 digits",
    });
    return null;
  }
  return input;
}

export const OUT_REFUND_NO_PATTERN = /^[0-9A-Za-z_\-|*@]{1,64}$/;

export interface RefundInput {
  out_trade_no?: unknown;
  out_refund_no?: unknown;
  refund_fee?: unknown;
  reason?: unknown;
}

export interface RefundParams {
  outTradeNo: string;
  outRefundNo: string;
  refundFen: Fen;
  reason: string | null;
}

/** Checks a refund request; throws one 40001 listing every problem, or returns typed params. */
export function validateRefundInput(input: RefundInput, maxFen: Fen = DEFAULT_RULES.maxFen): RefundParams {
  const problems = refundProblems(input, maxFen);
  if (problems.length > 0) throw problemsError(problems);
  const reason = input.reason;
  return {
    outTradeNo: input.out_trade_no as string,
    outRefundNo: input.out_refund_no as string,
    refundFen: input.refund_fee as Fen,
    reason: typeof reason === 'string' && reason.length > 0 ? reason : null,
  };
}

/** Every problem of a refund request, without throwing. */
export function refundProblems(input: RefundInput, maxFen: Fen = DEFAULT_RULES.maxFen): Problem[] {
  const problems: Problem[] = [];
  if (typeof input.out_trade_no !== 'string' || !OUT_TRADE_NO_PATTERN.test(input.out_trade_no)) {
    problems.push({
      field: 'out_trade_no',
      message: 'out_trade_no must be 6 to 32 characters of 0-9 A-Z a-z _ - *',
    });
  }
  if (typeof input.out_refund_no !== 'string' || !OUT_REFUND_NO_PATTERN.test(input.out_refund_no)) {
    problems.push({
      field: 'out_refund_no',
      message: 'out_refund_no must be 1 to 64 characters of 0-9 A-Z a-z _ - | * @',
    });
  }
  const amountProblem = fenProblem(input.refund_fee, maxFen);
  if (amountProblem !== null) problems.push({ field: 'refund_fee', message: `refund_fee ${amountProblem}` });
  const reason = input.reason;
  if (reason !== undefined && reason !== null && (typeof reason !== 'string' || [...reason].length > 80)) {
    problems.push({ field: 'reason', message: 'reason must be a string of at most 80 characters' });
  }
  return problems;
}
