/** The bounds of the fields several routes take, in one place so the routes and the API docs agree. */
import { HARD_MAX_FEN } from '../../core/money.ts';
import {
  MAX_EXPIRE_SECONDS,
  MAX_ID_LENGTH,
  MIN_EXPIRE_SECONDS,
  OUT_REFUND_NO_PATTERN,
  OUT_TRADE_NO_PATTERN,
} from '../../core/validate.ts';

/**
 * Bounds every request field shares with the gateways: identifiers as WeChat Pay and Alipay take
 * them, amounts within the int32 both store, a browser URL as Alipay's return_url (256) and
 * quit_url (400) allow, and only http(s), since the URL ends up in a page's link or redirect.
 */
export const FIELD = {
  outTradeNo: { type: 'string', minLength: 6, maxLength: 32, pattern: OUT_TRADE_NO_PATTERN.source },
  outRefundNo: { type: 'string', minLength: 1, maxLength: 64, pattern: OUT_REFUND_NO_PATTERN.source },
  fen: { type: 'integer', minimum: 1, maximum: HARD_MAX_FEN, description: 'integer fen: 100 = 1 yuan' },
  subject: { type: 'string', minLength: 2, maxLength: 127 },
  orderType: {
    type: 'string',
    maxLength: 32,
    description: 'recharge, goods, vip, custom, or a registered type',
  },
  id: { type: 'string', maxLength: MAX_ID_LENGTH },
  custom: { type: 'object', description: 'your own data, kept with the order: JSON of at most 4096 bytes' },
  returnUrl: { type: 'string', maxLength: 256, pattern: '^https?://[^\\s]+$' },
  timeExpire: {
    type: 'integer',
    minimum: MIN_EXPIRE_SECONDS,
    maximum: MAX_EXPIRE_SECONDS,
    description: `seconds until the order expires: ${MIN_EXPIRE_SECONDS} to ${MAX_EXPIRE_SECONDS} (15 days)`,
  },
  merchant: { type: 'string', maxLength: 64, description: 'another merchant this app may act for' },
} as const;
