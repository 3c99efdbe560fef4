/**
 * Trades with Alipay's states and rules: WAIT_BUYER_PAY -> TRADE_SUCCESS -> TRADE_FINISHED, or
 * TRADE_CLOSED (closed unpaid, fully refunded, or timed out). Amounts are integer fen. A trade
 * created by precreate, page, wap or app pay stays invisible to queries until the buyer acts on
 * it, because Alipay only creates the trade when the buyer scans or logs in (protocols.md C.6).
 * An unpaid trade closes at its time_expire, or when its timeout_express (15d by default) has run
 * from the moment Alipay starts counting: creation (create), each opening of the cashier (page),
 * the scan (precreate), the buyer's first action (wap, app).
 */
import { drawRefund, type RoyaltyAccount, type RoyaltyReturn } from './royalty-accounts.ts';
import type { AlipayRuntime } from './runtime.ts';
import { randomDigits, randomToken, tradeNumber } from './runtime.ts';
import { businessFailure, invalidParameter, tradeNotExist } from './wire-errors.ts';

export type TradeStatus = 'WAIT_BUYER_PAY' | 'TRADE_SUCCESS' | 'TRADE_FINISHED' | 'TRADE_CLOSED';
export type TradeProduct = 'page' | 'wap' | 'app' | 'precreate' | 'create' | 'barcode';

export interface Buyer {
  buyerId: string;
  buyerLogonId: string;
  buyerOpenId?: string;
}

export interface Refund {
  outRequestNo: string;
  refundFen: number;
  refundReason?: string;
  gmtRefund: number;
  /** refund_royalty_parameters: the splits this refund took back from receivers. */
  royaltyReturns?: RoyaltyReturn[];
}

export interface NewTrade {
  appId: string;
  outTradeNo: string;
  product: TradeProduct;
  totalFen: number;
  subject: string;
  body?: string;
  productCode?: string;
  passbackParams?: string;
  notifyUrl?: string;
  returnUrl?: string;
  quitUrl?: string;
  /** alipay.trade.create names the buyer up front; a payment code says who the buyer is. */
  buyer?: Partial<Buyer>;
  /** A payment-code trade whose buyer never confirms: the control API's pay is refused. */
  neverConfirms?: boolean;
  /** time_expire: the absolute deadline, epoch ms. */
  timeExpireAt?: number;
  /** timeout_express as sent ('90m', '2h', '3d', '1c'); Alipay's default is 15d. */
  timeoutExpress?: string;
  /** extend_params.royalty_freeze: paid funds stay frozen for alipay.trade.order.settle. */
  royaltyFreeze?: boolean;
}

export interface Trade extends NewTrade {
  tradeNo: string;
  status: TradeStatus;
  /** False until the buyer scans, logs in or pays; queries answer ACQ.TRADE_NOT_EXIST meanwhile. */
  visible: boolean;
  /** Names the trade on payer pages and QR codes. */
  payToken: string;
  buyer?: Partial<Buyer>;
  gmtCreate: number;
  gmtPayment?: number;
  gmtClose?: number;
  refunds: Refund[];
  refundedFen: number;
  /** The sub_code of the buyer's last failed attempt, e.g. ACQ.BUYER_BALANCE_NOT_ENOUGH. */
  lastFailure?: string;
  /** When Alipay closes it unpaid: time_expire, or the timeout once its count has started. */
  expiresAt?: number;
  /** A royalty-frozen trade's split accounts, from its first settle or refund on. */
  royalty?: RoyaltyAccount;
}

export type TradeEvent =
  | { kind: 'paid' | 'closed' | 'finished'; trade: Trade }
  | { kind: 'refunded'; trade: Trade; refund: Refund };

export interface RefundResult {
  refund: Refund;
  /** 'Y' when this call moved money; a repeated out_request_no gives 'N'. */
  fundChange: 'Y' | 'N';
}

export const DEFAULT_TIMEOUT_EXPRESS = '15d';
const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };
const BEIJING_MS = 8 * 3_600_000;

/**
 * When a timeout_express that starts counting at `startMs` runs out: 1m to 15d in whole minutes,
 * hours or days, or 1c, the next midnight in Beijing. Undefined when the value is not one of those.
 */
export function timeoutDeadline(express: string, startMs: number): number | undefined {
  if (express === '1c') {
    const day = 86_400_000;
    return Math.floor((startMs + BEIJING_MS) / day) * day + day - BEIJING_MS;
  }
  const match = /^([1-9]\d{0,5})([mhd])$/.exec(express);
  if (!match) return undefined;
  const ms = Number(match[1]) * UNIT_MS[match[2]!]!;
  return ms <= 15 * 86_400_000 ? startMs + ms : undefined;
}

export const BUYER_FAILURES = [
  'ACQ.BUYER_BALANCE_NOT_ENOUGH',
  'ACQ.BUYER_BANKCARD_BALANCE_NOT_ENOUGH',
] as const;

export class TradeBook {
  private readonly byOutTradeNo = new Map<string, Trade>();
  private readonly byTradeNo = new Map<string, Trade>();
  private readonly byToken = new Map<string, Trade>();

  constructor(
    private readonly runtime: AlipayRuntime,
    private readonly onEvent: (event: TradeEvent) => void,
  ) {}

  private now(): number {
    return this.runtime.clock.now();
  }

  /** Creates a trade, or returns the same unpaid trade when the same order is submitted again. */
  open(order: NewTrade): Trade {
    let existing = this.refreshed(this.byOutTradeNo.get(`${order.appId}/${order.outTradeNo}`));
    // Timed out before any buyer acted: it never existed at Alipay, so the order starts afresh.
    if (existing && !existing.visible && existing.status === 'TRADE_CLOSED') existing = undefined;
    if (existing) {
      if (existing.status === 'TRADE_SUCCESS' || existing.status === 'TRADE_FINISHED') {
        throw businessFailure('ACQ.TRADE_HAS_SUCCESS', '交易已被支付');
      }
      if (existing.status === 'TRADE_CLOSED') throw businessFailure('ACQ.TRADE_HAS_CLOSE', '交易已经关闭');
      const same =
        existing.product === order.product &&
        existing.totalFen === order.totalFen &&
        existing.subject === order.subject;
      if (!same) throw businessFailure('ACQ.CONTEXT_INCONSISTENT', '交易信息被篡改');
      // Opening the cashier again starts the page timeout again.
      if (existing.product === 'page') this.startTimeout(existing);
      return existing;
    }
    const trade: Trade = {
      ...order,
      tradeNo: tradeNumber(this.now(), this.runtime.random),
      status: 'WAIT_BUYER_PAY',
      // create and bar-code trades exist at Alipay from the call on.
      visible: order.product === 'create' || order.product === 'barcode',
      payToken: randomToken(this.runtime.random, 24),
      gmtCreate: this.now(),
      refunds: [],
      refundedFen: 0,
    };
    if (trade.timeExpireAt !== undefined) trade.expiresAt = trade.timeExpireAt;
    if (trade.product === 'create' || trade.product === 'page' || trade.product === 'barcode')
      this.startTimeout(trade);
    this.byOutTradeNo.set(`${order.appId}/${order.outTradeNo}`, trade);
    this.byTradeNo.set(trade.tradeNo, trade);
    this.byToken.set(trade.payToken, trade);
    return trade;
  }

  /** The trade as the API sees it: trade_no wins over out_trade_no, invisible trades do not exist. */
  find(appId: string, ids: { outTradeNo?: string; tradeNo?: string }): Trade {
    const trade = this.refreshed(
      ids.tradeNo
        ? this.byTradeNo.get(ids.tradeNo)
        : this.byOutTradeNo.get(`${appId}/${ids.outTradeNo ?? ''}`),
    );
    if (!trade || trade.appId !== appId || !trade.visible) throw tradeNotExist();
    return trade;
  }

  /** Every trade of an app. */
  all(appId: string): Trade[] {
    return [...this.byOutTradeNo.values()].filter(
      (trade) => trade.appId === appId && this.refreshed(trade) !== undefined,
    );
  }

  /** Any trade, visible or not, for the control API and the payer pages. */
  lookup(appId: string, outTradeNo: string): Trade | undefined {
    return this.refreshed(this.byOutTradeNo.get(`${appId}/${outTradeNo}`));
  }

  byPayToken(token: string): Trade | undefined {
    return this.refreshed(this.byToken.get(token));
  }

  /** The buyer opened the cashier or scanned the code: the trade now exists at Alipay. */
  reveal(trade: Trade): Trade {
    if (
      !trade.visible &&
      trade.product !== 'page' &&
      trade.product !== 'create' &&
      trade.product !== 'barcode'
    )
      this.startTimeout(trade);
    trade.visible = true;
    return trade;
  }

  /** Every trade ever opened, in order, including ones replaced after timing out unseen. */
  snapshot(): Trade[] {
    return [...this.byTradeNo.values()];
  }

  /** Takes back trades the state file kept; a later trade of the same out_trade_no wins. */
  restore(trades: Trade[]): void {
    for (const trade of trades) {
      this.byOutTradeNo.set(`${trade.appId}/${trade.outTradeNo}`, trade);
      this.byTradeNo.set(trade.tradeNo, trade);
      this.byToken.set(trade.payToken, trade);
    }
  }

  /** Closes every waiting trade whose time has run out (the gateway sweeps this periodically). */
  expireDue(): void {
    for (const trade of this.byOutTradeNo.values()) this.refreshed(trade);
  }

  /** Starts (or restarts) the timeout_express count; time_expire still caps it. */
  private startTimeout(trade: Trade): void {
    const timeout = timeoutDeadline(trade.timeoutExpress ?? DEFAULT_TIMEOUT_EXPRESS, this.now());
    const deadlines = [trade.timeExpireAt, timeout].filter((at): at is number => at !== undefined);
    if (deadlines.length > 0) trade.expiresAt = Math.min(...deadlines);
  }

  /** Applies a timeout that has run out: closed at its deadline; the merchant hears it if it existed. */
  private refreshed(trade: Trade | undefined): Trade | undefined {
    if (trade?.status !== 'WAIT_BUYER_PAY' || trade.expiresAt === undefined) return trade;
    if (trade.expiresAt > this.now()) return trade;
    if (trade.visible) return this.closeUnpaid(trade, trade.expiresAt);
    trade.status = 'TRADE_CLOSED';
    trade.gmtClose = trade.expiresAt;
    return trade;
  }

  private assertPayable(trade: Trade): void {
    if (trade.status === 'TRADE_SUCCESS' || trade.status === 'TRADE_FINISHED') {
      throw businessFailure('ACQ.TRADE_HAS_SUCCESS', '交易已被支付');
    }
    if (trade.status === 'TRADE_CLOSED') throw businessFailure('ACQ.TRADE_HAS_CLOSE', '交易已经关闭');
  }

  pay(trade: Trade, buyer: Partial<Buyer> = {}): Trade {
    this.refreshed(trade);
    this.assertPayable(trade);
    if (trade.neverConfirms)
      throw businessFailure('ACQ.TRADE_STATUS_ERROR', '买家未确认支付（该付款码的买家从不确认）');
    this.reveal(trade);
    trade.buyer = {
      buyerId: buyer.buyerId ?? trade.buyer?.buyerId ?? `2088${randomDigits(this.runtime.random, 12)}`,
      buyerLogonId: buyer.buyerLogonId ?? trade.buyer?.buyerLogonId ?? `sandbox***@vk-pay.test`,
      ...((buyer.buyerOpenId ?? trade.buyer?.buyerOpenId)
        ? { buyerOpenId: buyer.buyerOpenId ?? trade.buyer?.buyerOpenId }
        : {}),
    };
    trade.status = 'TRADE_SUCCESS';
    trade.gmtPayment = this.now();
    delete trade.lastFailure;
    this.onEvent({ kind: 'paid', trade });
    return trade;
  }

  /** A failed attempt leaves the trade waiting: the buyer may top up and try again. */
  failPayment(trade: Trade, subCode: (typeof BUYER_FAILURES)[number]): Trade {
    this.refreshed(trade);
    this.assertPayable(trade);
    this.reveal(trade);
    trade.lastFailure = subCode;
    return trade;
  }

  /**
   * The buyer left Alipay's page ("放弃" on the wap cashier): at Alipay this closes nothing, the
   * trade keeps waiting for payment until its timeout, and may still be paid.
   */
  leave(trade: Trade): Trade {
    this.refreshed(trade);
    this.assertPayable(trade);
    return this.reveal(trade);
  }

  /** The buyer gave up and the trade timed out (a control-API shortcut): closed, TRADE_CLOSED heard. */
  abandon(trade: Trade): Trade {
    this.refreshed(trade);
    this.assertPayable(trade);
    trade.visible = true;
    return this.closeUnpaid(trade);
  }

  /** alipay.trade.close: only a trade waiting for payment can be closed. */
  close(trade: Trade): Trade {
    if (trade.status !== 'WAIT_BUYER_PAY') throw businessFailure('ACQ.TRADE_STATUS_ERROR', '交易状态不合法');
    return this.closeUnpaid(trade);
  }

  private closeUnpaid(trade: Trade, at = this.now()): Trade {
    trade.status = 'TRADE_CLOSED';
    trade.gmtClose = at;
    this.onEvent({ kind: 'closed', trade });
    return trade;
  }

  /** The refund window ended: TRADE_SUCCESS becomes TRADE_FINISHED. */
  finish(trade: Trade): Trade {
    if (trade.status !== 'TRADE_SUCCESS') throw businessFailure('ACQ.TRADE_STATUS_ERROR', '交易状态不合法');
    trade.status = 'TRADE_FINISHED';
    this.onEvent({ kind: 'finished', trade });
    return trade;
  }

  refundableFen(trade: Trade): number {
    return trade.status === 'TRADE_SUCCESS' ? trade.totalFen - trade.refundedFen : 0;
  }

  /**
   * out_request_no is the idempotency key; refunds settle at once, as Alipay's do. A royalty-frozen
   * trade's refund is drawn from its split accounts (royalty-accounts.ts), taking `royaltyReturns`
   * back from receivers where the merchant's share does not cover it; a refusal there changes nothing.
   */
  refund(
    trade: Trade,
    outRequestNo: string,
    refundFen: number,
    refundReason?: string,
    royaltyReturns: RoyaltyReturn[] = [],
  ): RefundResult {
    const previous = trade.refunds.find((refund) => refund.outRequestNo === outRequestNo);
    if (previous) {
      if (previous.refundFen !== refundFen) {
        throw businessFailure('ACQ.DISCORDANT_REPEAT_REQUEST', '请求信息不一致');
      }
      return { refund: previous, fundChange: 'N' };
    }
    if (trade.status === 'WAIT_BUYER_PAY') throw businessFailure('ACQ.TRADE_STATUS_ERROR', '交易状态不合法');
    if (trade.status === 'TRADE_CLOSED') throw businessFailure('ACQ.TRADE_HAS_CLOSE', '交易已经关闭');
    if (trade.status === 'TRADE_FINISHED') throw businessFailure('ACQ.TRADE_HAS_FINISHED', '交易已完结');
    if (refundFen > this.refundableFen(trade)) {
      throw businessFailure('ACQ.REFUND_AMT_NOT_EQUAL_TOTAL', '退款金额超限');
    }
    if (trade.royaltyFreeze) drawRefund(trade, refundFen, royaltyReturns);
    else if (royaltyReturns.length > 0)
      throw invalidParameter('refund_royalty_parameters', '交易未冻结分账，无分账可退');
    const refund: Refund = { outRequestNo, refundFen, gmtRefund: this.now() };
    if (refundReason) refund.refundReason = refundReason;
    if (royaltyReturns.length > 0) refund.royaltyReturns = royaltyReturns;
    trade.refunds.push(refund);
    trade.refundedFen += refundFen;
    if (trade.refundedFen === trade.totalFen) {
      trade.status = 'TRADE_CLOSED';
      trade.gmtClose = refund.gmtRefund;
    }
    this.onEvent({ kind: 'refunded', trade, refund });
    return { refund, fundChange: 'Y' };
  }

  /** alipay.trade.cancel: close an unpaid trade, refund a paid one in full. */
  cancel(trade: Trade): 'close' | 'refund' | '' {
    if (trade.status === 'WAIT_BUYER_PAY') {
      this.closeUnpaid(trade);
      return 'close';
    }
    if (trade.status === 'TRADE_SUCCESS') {
      this.refund(trade, `cancel-${trade.outTradeNo}`, this.refundableFen(trade), '撤销');
      return 'refund';
    }
    if (trade.status === 'TRADE_CLOSED') return '';
    throw businessFailure('ACQ.TRADE_STATUS_ERROR', '交易状态不合法');
  }
}
