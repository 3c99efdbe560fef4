/**
 * The gateway's trade book: prepay, lookup, close and the payer's actions, with WeChat's
 * trade_state rules (protocols.md A.6). An order past its time_expire cannot be paid but keeps
 * reading NOTPAY, as at WeChat, which has no expired state: the merchant closes it.
 */

import type { PaymentCodeBook } from './payment-codes.ts';
import {
  compactChinaTime,
  randomAlphanumeric,
  randomDigits,
  randomHexUpper,
  type SandboxRuntime,
} from './runtime.ts';
import { invalidRequest, orderNotExist, WxpayWireError } from './wire-errors.ts';
import type { CodepayRequest, PrepayRequest, TradeType } from './wire-requests.ts';

export type TradeState = 'NOTPAY' | 'USERPAYING' | 'SUCCESS' | 'REFUND' | 'CLOSED' | 'REVOKED' | 'PAYERROR';

/** Why a payer's attempt failed; NOT_ENOUGH is the insufficient-balance case. */
export type PaymentFailureCode = 'NOT_ENOUGH' | 'ACCOUNT_ERROR' | 'BANK_ERROR';

/** A trade a service provider placed for a sub-merchant: `mchid` is then the sub_mchid. */
export interface TradePartner {
  spMchid: string;
  spAppid: string;
  subAppid: string | undefined;
  /** Which openid the payer was named by: under sp_appid or under sub_appid. */
  openidKind: 'sp' | 'sub';
}

export interface Trade {
  /** The merchant the order belongs to: the mchid, or the sub_mchid in partner mode. */
  mchid: string;
  appid: string;
  partner?: TradePartner;
  outTradeNo: string;
  tradeType: TradeType;
  tradeState: TradeState;
  tradeStateDesc: string;
  description: string;
  attach: string | undefined;
  notifyUrl: string;
  totalFen: number;
  currency: string;
  payerOpenid: string | undefined;
  payerClientIp: string | undefined;
  prepayId: string;
  prepayExpiresAt: number;
  /** The `pr` of the Native code_url, which the payer page resolves. */
  codeToken: string;
  timeExpireMs: number | undefined;
  createdAt: number;
  transactionId: string | undefined;
  successAt: number | undefined;
  bankType: string | undefined;
  lastFailure: PaymentFailureCode | undefined;
  fingerprint: string;
  /** Codepay trades: the buyer confirms only through the control API (or never). */
  confirmation?: 'password' | 'never';
  /** Set when a reversal refunded the payment. */
  reversedAt?: number;
  /** Created with settle_info.profit_sharing: paid funds stay frozen for splitting. */
  profitSharing?: boolean;
}

/** Reverse works on payment-code trades of the last seven days only. */
export const REVERSE_WINDOW_MS = 7 * 86_400_000;

/** The answer to a codepay: the trade, and whether the buyer is still confirming (USERPAYING). */
export interface CodepayOutcome {
  trade: Trade;
  confirming: boolean;
}

/** A prepay_id may be reused for two hours; after that the same request gets a new one. */
export const PREPAY_ID_LIFETIME_MS = 2 * 3600_000;

const STATE_DESC: Record<TradeState, string> = {
  NOTPAY: '订单未支付',
  USERPAYING: '用户支付中（需要输入密码）',
  SUCCESS: '支付成功',
  REFUND: '订单发生过退款',
  CLOSED: '订单已关闭',
  REVOKED: '订单已撤销',
  PAYERROR: '支付失败，请重新下单支付',
};

const FAILURE_DESC: Record<PaymentFailureCode, string> = {
  NOT_ENOUGH: '用户余额不足，请用户换卡支付',
  ACCOUNT_ERROR: '用户账户异常',
  BANK_ERROR: '银行系统异常',
};

/** Failures are 403 except the bank's, which WeChat reports as a retryable 500. */
export function paymentFailureError(code: PaymentFailureCode): WxpayWireError {
  return new WxpayWireError(code === 'BANK_ERROR' ? 500 : 403, code, FAILURE_DESC[code]);
}

function orderPaid(): WxpayWireError {
  return new WxpayWireError(403, 'ORDERPAID', '该订单已支付，请勿重复操作');
}

function orderClosed(): WxpayWireError {
  return new WxpayWireError(400, 'ORDER_CLOSED', '该订单已关闭，请重新下单');
}

/** The payer's side only (payer page, control API): WeChat shows the payer that the order expired. */
function orderExpired(): WxpayWireError {
  return new WxpayWireError(400, 'ORDER_EXPIRED', '订单已过支付截止时间（time_expire），无法支付');
}

export class TradeBook {
  private readonly trades = new Map<string, Trade>();
  private readonly byTransactionId = new Map<string, Trade>();
  private readonly byPrepayId = new Map<string, Trade>();
  private readonly byCodeToken = new Map<string, Trade>();

  constructor(
    private readonly runtime: SandboxRuntime,
    private readonly onPaid: (trade: Trade) => void,
  ) {}

  /** Creates the order, or returns it again when the same out_trade_no comes with the same content. */
  prepay(request: PrepayRequest): Trade {
    const now = this.runtime.clock.now();
    const existing = this.find(request.mchid, request.outTradeNo);
    if (existing) {
      if (existing.fingerprint !== request.fingerprint) {
        throw invalidRequest('201 商户订单号重复', {
          field: 'out_trade_no',
          value: request.outTradeNo,
          issue: '同一商户订单号的请求参数与首次请求不一致',
        });
      }
      if (existing.tradeState === 'SUCCESS' || existing.tradeState === 'REFUND') throw orderPaid();
      if (existing.tradeState === 'CLOSED' || existing.tradeState === 'PAYERROR') throw orderClosed();
      if (existing.prepayExpiresAt <= now) this.renewPrepayId(existing, now);
      return existing;
    }
    const trade: Trade = {
      mchid: request.mchid,
      appid: request.appid,
      ...(request.partner ? { partner: request.partner } : {}),
      outTradeNo: request.outTradeNo,
      tradeType: request.tradeType,
      tradeState: 'NOTPAY',
      tradeStateDesc: STATE_DESC.NOTPAY,
      description: request.description,
      attach: request.attach,
      notifyUrl: request.notifyUrl,
      totalFen: request.totalFen,
      currency: request.currency,
      payerOpenid: request.payerOpenid,
      payerClientIp: request.payerClientIp,
      prepayId: '',
      prepayExpiresAt: 0,
      codeToken: randomAlphanumeric(this.runtime.random, 9),
      timeExpireMs: request.timeExpireMs,
      createdAt: now,
      transactionId: undefined,
      successAt: undefined,
      bankType: undefined,
      lastFailure: undefined,
      fingerprint: request.fingerprint,
      ...(request.profitSharing ? { profitSharing: true } : {}),
    };
    this.renewPrepayId(trade, now);
    this.trades.set(key(trade.mchid, trade.outTradeNo), trade);
    this.byCodeToken.set(trade.codeToken, trade);
    return trade;
  }

  find(mchid: string, outTradeNo: string): Trade | undefined {
    return this.trades.get(key(mchid, outTradeNo));
  }

  get(mchid: string, outTradeNo: string): Trade {
    const trade = this.find(mchid, outTradeNo);
    if (!trade) throw orderNotExist();
    return trade;
  }

  /** Only paid orders have a transaction id, so an unpaid order is not found this way. */
  findByTransactionId(mchid: string, transactionId: string): Trade | undefined {
    const trade = this.byTransactionId.get(transactionId);
    return trade?.mchid === mchid ? trade : undefined;
  }

  getByTransactionId(mchid: string, transactionId: string): Trade {
    const trade = this.findByTransactionId(mchid, transactionId);
    if (!trade) throw orderNotExist();
    return trade;
  }

  /** A paid trade by its transaction id, whoever owns it; the caller checks who may see it. */
  findPaid(transactionId: string): Trade | undefined {
    return this.byTransactionId.get(transactionId);
  }

  findByPrepayId(prepayId: string): Trade | undefined {
    return this.byPrepayId.get(prepayId);
  }

  findByCodeToken(token: string): Trade | undefined {
    return this.byCodeToken.get(token);
  }

  all(): Trade[] {
    return [...this.trades.values()];
  }

  /** Takes back trades the state file kept, with their indexes. */
  restore(trades: Trade[]): void {
    for (const trade of trades) {
      this.trades.set(key(trade.mchid, trade.outTradeNo), trade);
      this.byPrepayId.set(trade.prepayId, trade);
      this.byCodeToken.set(trade.codeToken, trade);
      if (trade.transactionId) this.byTransactionId.set(trade.transactionId, trade);
    }
  }

  /** Unpaid and past its time_expire: the payer can no longer pay it. */
  isExpired(trade: Trade): boolean {
    const unpaid = trade.tradeState === 'NOTPAY' || trade.tradeState === 'USERPAYING';
    return unpaid && trade.timeExpireMs !== undefined && trade.timeExpireMs <= this.runtime.clock.now();
  }

  /** Closing twice is fine; closing a paid order is ORDERPAID; a payment in progress is 429. */
  close(mchid: string, outTradeNo: string): Trade {
    const trade = this.get(mchid, outTradeNo);
    switch (trade.tradeState) {
      case 'SUCCESS':
      case 'REFUND':
        throw orderPaid();
      case 'USERPAYING':
        throw new WxpayWireError(429, 'FREQUENCY_LIMITED', '用户正在支付中，请稍后再关单');
      case 'NOTPAY':
      case 'PAYERROR':
        this.setState(trade, 'CLOSED');
        return trade;
      case 'CLOSED':
        return trade;
      case 'REVOKED':
        throw new WxpayWireError(400, 'ORDER_REVERSED', '订单已撤销');
    }
  }

  /**
   * A payment code at the counter. A refused code (bad, used, expired) or a short balance makes no
   * trade, so the merchant may send another code with the same out_trade_no; a trade that exists is
   * answered as it stands when the same request comes again, and refused for a new code.
   */
  codepay(request: CodepayRequest, codes: PaymentCodeBook): CodepayOutcome {
    const existing = this.find(request.mchid, request.outTradeNo);
    if (existing) {
      if (existing.fingerprint !== request.fingerprint) {
        throw invalidRequest('201 商户订单号重复，更换付款码请使用新的商户订单号', { field: 'out_trade_no' });
      }
      switch (existing.tradeState) {
        case 'SUCCESS':
        case 'REFUND':
          throw orderPaid();
        case 'REVOKED':
          throw new WxpayWireError(400, 'ORDER_REVERSED', '订单已撤销');
        case 'CLOSED':
        case 'PAYERROR':
          throw orderClosed();
        default:
          return { trade: existing, confirming: true };
      }
    }
    const code = codes.usable(request.authCode);
    if (code.behaviour === 'insufficient') throw paymentFailureError('NOT_ENOUGH');
    const now = this.runtime.clock.now();
    const trade: Trade = {
      mchid: request.mchid,
      appid: request.appid,
      outTradeNo: request.outTradeNo,
      tradeType: 'MICROPAY',
      tradeState: 'NOTPAY',
      tradeStateDesc: STATE_DESC.NOTPAY,
      description: request.description,
      attach: request.attach,
      notifyUrl: request.notifyUrl ?? '',
      totalFen: request.totalFen,
      currency: request.currency,
      payerOpenid: code.openid,
      payerClientIp: request.deviceIp,
      prepayId: '',
      prepayExpiresAt: 0,
      // The payer page finds the trade by this token: where the sandbox buyer enters the password.
      codeToken: randomAlphanumeric(this.runtime.random, 9),
      timeExpireMs: undefined,
      createdAt: now,
      transactionId: undefined,
      successAt: undefined,
      bankType: undefined,
      lastFailure: undefined,
      fingerprint: request.fingerprint,
      ...(request.partner ? { partner: request.partner } : {}),
      ...(request.profitSharing ? { profitSharing: true } : {}),
      ...(code.behaviour === 'password' || code.behaviour === 'never'
        ? { confirmation: code.behaviour }
        : {}),
    };
    this.trades.set(key(trade.mchid, trade.outTradeNo), trade);
    this.byCodeToken.set(trade.codeToken, trade);
    codes.use(code, key(trade.mchid, trade.outTradeNo));
    if (code.behaviour === 'pays')
      return { trade: this.pay(trade.mchid, trade.outTradeNo), confirming: false };
    this.setState(trade, 'USERPAYING');
    return { trade, confirming: true };
  }

  /**
   * 撤销: an unpaid payment-code trade is closed for good (REVOKED), a paid one refunded in full and
   * REVOKED too. Only payment-code trades of the last seven days; a closed one is ORDER_CLOSED.
   */
  reverse(mchid: string, outTradeNo: string): Trade {
    const trade = this.get(mchid, outTradeNo);
    if (trade.tradeType !== 'MICROPAY')
      throw invalidRequest('非付款码支付订单，不能撤销，请调用关单或退款接口');
    if (this.runtime.clock.now() - trade.createdAt > REVERSE_WINDOW_MS)
      throw invalidRequest('订单已超过可撤销期限（7天），请调用退款接口');
    switch (trade.tradeState) {
      case 'CLOSED':
        throw orderClosed();
      case 'REFUND':
        throw invalidRequest('订单已发生退款，不能撤销，请调用退款接口');
      case 'REVOKED':
        return trade;
      case 'SUCCESS':
        trade.reversedAt = this.runtime.clock.now();
        this.setState(trade, 'REVOKED');
        return trade;
      default:
        this.setState(trade, 'REVOKED');
        return trade;
    }
  }

  /** The payer confirms and has the money: NOTPAY/USERPAYING -> SUCCESS, then the notification. */
  pay(mchid: string, outTradeNo: string, payer: { openid?: string; bankType?: string } = {}): Trade {
    const trade = this.payable(mchid, outTradeNo);
    const now = this.runtime.clock.now();
    trade.transactionId = `42000${compactChinaTime(now).slice(0, 8)}${randomDigits(this.runtime.random, 15)}`;
    trade.successAt = now;
    trade.bankType = payer.bankType ?? 'OTHERS';
    trade.payerOpenid ??= payer.openid ?? `oSandbox${randomAlphanumeric(this.runtime.random, 20)}`;
    trade.lastFailure = undefined;
    this.setState(trade, 'SUCCESS');
    this.byTransactionId.set(trade.transactionId, trade);
    this.onPaid(trade);
    return trade;
  }

  /**
   * The payer tried and failed. For JSAPI/APP/H5/Native the order stays NOTPAY (the payer may
   * retry with another card), as at WeChat; `final` turns it into PAYERROR, the micropay outcome.
   */
  failPayment(mchid: string, outTradeNo: string, code: PaymentFailureCode, final = false): Trade {
    const trade = this.payable(mchid, outTradeNo);
    trade.lastFailure = code;
    if (final) {
      this.setState(trade, 'PAYERROR');
      trade.tradeStateDesc = `支付失败，${FAILURE_DESC[code]}`;
    } else {
      this.setState(trade, 'NOTPAY');
    }
    return trade;
  }

  /** The payer is entering a password: USERPAYING until they pay, fail or give up. */
  startPaying(mchid: string, outTradeNo: string): Trade {
    const trade = this.payable(mchid, outTradeNo);
    this.setState(trade, 'USERPAYING');
    return trade;
  }

  /** Giving up changes nothing at WeChat: the order stays NOTPAY until it is closed or expires. */
  abandon(mchid: string, outTradeNo: string): Trade {
    const trade = this.payable(mchid, outTradeNo);
    this.setState(trade, 'NOTPAY');
    return trade;
  }

  /** The first refund moves SUCCESS to REFUND (protocols.md A.6.3). */
  markRefunded(trade: Trade): void {
    if (trade.tradeState === 'SUCCESS') this.setState(trade, 'REFUND');
  }

  private payable(mchid: string, outTradeNo: string): Trade {
    const trade = this.get(mchid, outTradeNo);
    if (trade.tradeState === 'SUCCESS' || trade.tradeState === 'REFUND') throw orderPaid();
    if (trade.tradeState === 'CLOSED' || trade.tradeState === 'PAYERROR' || trade.tradeState === 'REVOKED')
      throw orderClosed();
    if (this.isExpired(trade)) throw orderExpired();
    return trade;
  }

  private renewPrepayId(trade: Trade, now: number): void {
    if (trade.prepayId) this.byPrepayId.delete(trade.prepayId);
    trade.prepayId = `wx${compactChinaTime(now)}${randomHexUpper(this.runtime.random, 20).toLowerCase()}`;
    trade.prepayExpiresAt = now + PREPAY_ID_LIFETIME_MS;
    this.byPrepayId.set(trade.prepayId, trade);
  }

  private setState(trade: Trade, state: TradeState): void {
    trade.tradeState = state;
    trade.tradeStateDesc = STATE_DESC[state];
  }
}

function key(mchid: string, outTradeNo: string): string {
  return `${mchid}\u0000${outTradeNo}`;
}
