/**
 * The unified error table (40001..40010, 50000) and the one error type that carries it.
 * Every failure a caller sees is a PayError with a code from this table; gateway codes are kept
 * beside the unified code, never instead of it.
 */

export const ERROR_CODES = [
  40001, 40002, 40003, 40004, 40005, 40006, 40007, 40008, 40009, 40010, 50000,
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorSpec {
  type: string;
  zh: string;
  en: string;
  actionZh: string;
  actionEn: string;
  httpStatus: number;
  /** Whether repeating the same request can succeed without changing it. */
  retryable: boolean;
}

export const ERROR_TABLE: Readonly<Record<ErrorCode, ErrorSpec>> = {
  40001: {
    type: 'PARAM_ERROR',
    zh: '参数错误，请检查输入',
    en: 'Invalid or missing parameters',
    actionZh: '检查参数完整性',
    actionEn: 'Check the request parameters',
    httpStatus: 400,
    retryable: false,
  },
  40002: {
    type: 'SIGN_ERROR',
    zh: '签名验证失败',
    en: 'Signature verification failed',
    actionZh: '检查API密钥和签名算法',
    actionEn: 'Check the API keys and the signing algorithm',
    httpStatus: 401,
    retryable: false,
  },
  40003: {
    type: 'CERT_ERROR',
    zh: '证书配置错误',
    en: 'Certificate missing or invalid',
    actionZh: '确保证书文件正确配置',
    actionEn: 'Check the configured certificates',
    httpStatus: 502,
    retryable: false,
  },
  40004: {
    type: 'NETWORK_ERROR',
    zh: '网络连接失败，请重试',
    en: 'Could not reach the payment gateway',
    actionZh: '检查网络连接，重试操作',
    actionEn: 'Check the network and retry',
    httpStatus: 502,
    retryable: true,
  },
  40005: {
    type: 'ORDER_NOT_FOUND',
    zh: '订单不存在',
    en: 'Order not found',
    actionZh: '检查订单号是否正确',
    actionEn: 'Check the order number',
    httpStatus: 404,
    retryable: false,
  },
  40006: {
    type: 'ORDER_PAID',
    zh: '订单已支付，无需重复操作',
    en: 'Order already paid',
    actionZh: '查询订单状态，无需重复支付',
    actionEn: 'Query the order; do not pay again',
    httpStatus: 409,
    retryable: false,
  },
  40007: {
    type: 'INSUFFICIENT_BALANCE',
    zh: '余额不足，请充值',
    en: 'Insufficient balance',
    actionZh: '提示用户充值',
    actionEn: 'Ask the payer to top up or use another method',
    httpStatus: 409,
    retryable: false,
  },
  40008: {
    type: 'RATE_LIMITED',
    zh: '操作过于频繁，请稍后重试',
    en: 'Too many requests',
    actionZh: '降低调用频率',
    actionEn: 'Slow down and retry later',
    httpStatus: 429,
    retryable: true,
  },
  40009: {
    type: 'NO_PERMISSION',
    zh: '权限不足，无法操作',
    en: 'Permission denied',
    actionZh: '检查API权限配置',
    actionEn: 'Check the API permissions',
    httpStatus: 403,
    retryable: false,
  },
  40010: {
    type: 'SYSTEM_BUSY',
    zh: '系统繁忙，请稍后重试',
    en: 'Payment system busy',
    actionZh: '稍后重试',
    actionEn: 'Retry later',
    httpStatus: 503,
    retryable: true,
  },
  50000: {
    type: 'SYSTEM_ERROR',
    zh: '系统错误，请联系客服',
    en: 'Internal error',
    actionZh: '联系技术支持',
    actionEn: 'Contact support',
    httpStatus: 500,
    retryable: false,
  },
};

export type Lang = 'zh' | 'en';

export interface PayErrorOptions {
  /** The request field that caused the error, when there is one. */
  field?: string;
  /** The gateway's own error code, kept next to the unified one. */
  gatewayCode?: string;
  /** Raw details (gateway message, list of validation problems...). Never secrets. */
  details?: unknown;
  cause?: unknown;
  /** Override of the generic message, in the caller's words. */
  message?: string;
  /** For network failures on writes: the gateway may or may not have acted. */
  outcomeUnknown?: boolean;
  /**
   * Words for the person in front of the payment (the buyer, the cashier) instead of the code's
   * generic msg and action: a refused payment code says why and what to do next.
   */
  text?: ErrorText;
}

export interface ErrorText {
  zh: string;
  en: string;
  actionZh: string;
  actionEn: string;
}

export class PayError extends Error {
  readonly code: ErrorCode;
  readonly field: string | undefined;
  readonly gatewayCode: string | undefined;
  readonly details: unknown;
  readonly outcomeUnknown: boolean;
  readonly text: ErrorText | undefined;

  constructor(code: ErrorCode, options: PayErrorOptions = {}) {
    super(
      options.message ?? ERROR_TABLE[code].en,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'PayError';
    this.code = code;
    this.field = options.field;
    this.gatewayCode = options.gatewayCode;
    this.details = options.details;
    this.outcomeUnknown = options.outcomeUnknown ?? false;
    this.text = options.text;
  }

  get spec(): ErrorSpec {
    return ERROR_TABLE[this.code];
  }

  get httpStatus(): number {
    return this.spec.httpStatus;
  }

  get retryable(): boolean {
    return this.spec.retryable;
  }

  /** The unified failure body: `{ code, msg, action, details? }`. */
  toResult(lang: Lang = 'zh'): ErrorResult {
    const spec = this.text ?? this.spec;
    const result: ErrorResult = {
      code: this.code,
      msg: lang === 'zh' ? spec.zh : spec.en,
      action: lang === 'zh' ? spec.actionZh : spec.actionEn,
    };
    if (this.field !== undefined) result.field = this.field;
    if (this.gatewayCode !== undefined) result.gatewayCode = this.gatewayCode;
    // An internal error's own message may name tables or hosts: callers get the generic text only.
    if (this.code !== 50000 && this.message !== this.spec.en) result.reason = this.message;
    if (this.details !== undefined) result.details = this.details;
    if (this.outcomeUnknown) result.outcomeUnknown = true;
    return result;
  }
}

export interface ErrorResult {
  code: ErrorCode;
  msg: string;
  action: string;
  field?: string;
  gatewayCode?: string;
  reason?: string;
  details?: unknown;
  outcomeUnknown?: boolean;
  requestId?: string;
}

export function isPayError(value: unknown): value is PayError {
  return value instanceof PayError;
}

/** Any thrown value as a PayError: PayErrors pass through, everything else is 50000. */
export function toPayError(value: unknown): PayError {
  if (value instanceof PayError) return value;
  return new PayError(50000, {
    cause: value,
    message: value instanceof Error ? value.message : String(value),
  });
}

/**
 * Why a gateway refused a buyer's payment code, in words for the counter. Every gateway's refusal
 * codes map onto these (WeChat AUTH_CODE_INVALID, Alipay ACQ.PAYMENT_AUTH_CODE_INVALID, ...).
 */
export const PAYMENT_CODE_REFUSALS = {
  /** The code is malformed, expired (a code lives about a minute) or was used already. */
  code_invalid: {
    code: 40001,
    zh: '付款码无效或已过期',
    en: "The buyer's payment code is invalid or expired",
    actionZh: '请顾客刷新付款码后重新扫码',
    actionEn: 'Ask the buyer to refresh the payment code, then scan it again',
  },
  /** The buyer's balance or card cannot cover the amount. */
  insufficient_balance: {
    code: 40007,
    zh: '顾客余额不足',
    en: "The buyer's balance is insufficient",
    actionZh: '请顾客更换付款方式（如切换银行卡）后重新出示付款码',
    actionEn: 'Ask the buyer to choose another card or method, then show a new payment code',
  },
  /** The buyer's account or card cannot pay (frozen, card not supported, risk control). */
  buyer_cannot_pay: {
    code: 40001,
    zh: '顾客账户暂不能完成支付',
    en: "The buyer's account cannot complete this payment",
    actionZh: '请顾客更换付款方式，或改用其他支付方式',
    actionEn: 'Ask the buyer to pay another way',
  },
} as const satisfies Record<string, ErrorText & { code: ErrorCode }>;

export type PaymentCodeRefusal = keyof typeof PAYMENT_CODE_REFUSALS;

/** A refused payment code as a PayError: the unified code, the gateway's own, words for the counter. */
export function paymentCodeRefused(
  reason: PaymentCodeRefusal,
  options: { gatewayCode: string; message: string; details?: unknown },
): PayError {
  const { code, ...text } = PAYMENT_CODE_REFUSALS[reason];
  return new PayError(code, {
    field: 'auth_code',
    gatewayCode: options.gatewayCode,
    message: options.message,
    details: options.details,
    text,
  });
}
