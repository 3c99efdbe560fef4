/**
 * The gateway's refund book: accepting refunds against paid trades within the refundable amount,
 * and settling them to SUCCESS, ABNORMAL or CLOSED (protocols.md A.6.2).
 */

import type { GatewayScheduler } from '../shared/scheduler.ts';
import type { Merchant } from './merchants.ts';
import { compactChinaTime, randomDigits, type SandboxRuntime } from './runtime.ts';
import type { Trade, TradeBook } from './trades.ts';
import { invalidRequest, resourceNotExists, WxpayWireError } from './wire-errors.ts';
import type { RefundRequest } from './wire-requests.ts';

export type RefundStatus = 'PROCESSING' | 'SUCCESS' | 'CLOSED' | 'ABNORMAL';
export type RefundOutcome = 'SUCCESS' | 'ABNORMAL' | 'CLOSED';

export interface Refund {
  /** The merchant whose order it refunds: the mchid, or the sub_mchid in partner mode. */
  mchid: string;
  /** Partner mode: the service provider that asked for it, whose keys sign its notification. */
  spMchid?: string;
  refundId: string;
  outRefundNo: string;
  outTradeNo: string;
  transactionId: string;
  status: RefundStatus;
  refundFen: number;
  totalFen: number;
  currency: string;
  reason: string | undefined;
  notifyUrl: string | undefined;
  fundsAccount: string;
  createdAt: number;
  successAt: number | undefined;
  fingerprint: string;
  /** Set by 发起异常退款: where the refund goes instead of the original account. */
  abnormalRecipient?: AbnormalRecipient;
}

export interface AbnormalRecipient {
  type: 'USER_BANK_CARD' | 'MERCHANT_BANK_CARD';
  bankType?: string;
  /** Decrypted, kept in the emulator's memory only so tests can see what arrived. */
  bankAccount?: string;
  realName?: string;
}

/** WeChat allows at most 50 partial refunds per order and refunds up to a year after payment. */
export const MAX_REFUNDS_PER_TRADE = 50;
export const REFUND_WINDOW_MS = 365 * 86400_000;
/** "Requests for multiple refunds for the same order must be separated by 1 minute." */
export const REFUND_SPACING_MS = 60_000;

/** Which outcomes may follow which status: ABNORMAL is not final and needs manual handling. */
const NEXT_STATUSES: Record<RefundStatus, readonly RefundOutcome[]> = {
  PROCESSING: ['SUCCESS', 'ABNORMAL', 'CLOSED'],
  ABNORMAL: ['SUCCESS', 'CLOSED'],
  SUCCESS: [],
  CLOSED: [],
};

/** What profit sharing holds of a trade created for splitting (profit-sharing.ts). */
export interface SplitLedger {
  /** Fen that sit with receivers (split and not returned): no refund may take them. */
  heldByReceivers(trade: Trade): number;
  /** An accepted refund: it draws on the unsplit frozen amount first. */
  refunded(trade: Trade, refund: Refund): void;
}

export class RefundBook {
  private readonly refunds = new Map<string, Refund>();
  private splits: SplitLedger | undefined;

  constructor(
    private readonly runtime: SandboxRuntime,
    private readonly scheduler: GatewayScheduler,
    private readonly trades: TradeBook,
    private readonly onSettled: (refund: Refund) => void,
  ) {}

  useSplitLedger(ledger: SplitLedger): void {
    this.splits = ledger;
  }

  /** `owner` is the sub_mchid when a service provider refunds for its sub-merchant. */
  create(merchant: Merchant, request: RefundRequest, owner: string = merchant.mchid): Refund {
    const existing = this.refunds.get(key(owner, request.outRefundNo));
    if (existing) {
      // Retrying with the same out_refund_no is how WeChat wants a failed call repeated.
      if (existing.fingerprint === request.fingerprint) return existing;
      throw invalidRequest('退款单号已存在，且本次请求参数与原退款请求不一致', {
        field: 'out_refund_no',
        value: request.outRefundNo,
      });
    }
    const trade = this.refundedTrade(owner, request);
    if (owner !== merchant.mchid && trade.partner?.spMchid !== merchant.mchid)
      throw resourceNotExists('订单不存在');
    const now = this.runtime.clock.now();
    if (trade.tradeState !== 'SUCCESS' && trade.tradeState !== 'REFUND') {
      throw invalidRequest(trade.tradeState === 'CLOSED' ? '订单已关闭，不能退款' : '订单未支付，不能退款', {
        field: 'out_trade_no',
        value: trade.outTradeNo,
      });
    }
    if (now - (trade.successAt ?? now) > REFUND_WINDOW_MS) throw invalidRequest('订单已超过退款期限（一年）');
    if (request.totalFen !== trade.totalFen) {
      throw invalidRequest('订单金额与原订单金额不一致', { field: 'amount/total', value: request.totalFen });
    }
    const others = this.forTrade(trade);
    const latest = Math.max(...others.map((other) => other.createdAt));
    if (merchant.refundSpacing && now - latest < REFUND_SPACING_MS) {
      throw new WxpayWireError(429, 'FREQUENCY_LIMITED', '单笔订单请求频率过高，请于1分钟后重试', {
        field: 'out_trade_no',
        value: trade.outTradeNo,
      });
    }
    if (others.length >= MAX_REFUNDS_PER_TRADE) {
      throw new WxpayWireError(403, 'RULE_LIMIT', `同一笔订单最多退款${MAX_REFUNDS_PER_TRADE}次`);
    }
    const refundable = this.refundableFen(trade);
    if (request.refundFen > refundable) {
      throw new WxpayWireError(403, 'NOT_ENOUGH', '申请退款金额超过订单可退金额', {
        field: 'amount/refund',
        value: request.refundFen,
        refundable,
      });
    }
    // WeChat refunds a split trade only from what the merchant holds: split money is returned first.
    const held = trade.profitSharing ? (this.splits?.heldByReceivers(trade) ?? 0) : 0;
    if (held > 0 && request.refundFen > refundable - held) {
      throw new WxpayWireError(403, 'NOT_ENOUGH', '可退金额不足：已分账的资金需先分账回退后才能退款', {
        field: 'amount/refund',
        value: request.refundFen,
        refundable: refundable - held,
      });
    }
    const refund: Refund = {
      mchid: owner,
      ...(owner !== merchant.mchid ? { spMchid: merchant.mchid } : {}),
      refundId: `503000${compactChinaTime(now).slice(0, 8)}${randomDigits(this.runtime.random, 15)}`,
      outRefundNo: request.outRefundNo,
      outTradeNo: trade.outTradeNo,
      transactionId: trade.transactionId!,
      status: 'PROCESSING',
      refundFen: request.refundFen,
      totalFen: trade.totalFen,
      currency: request.currency,
      reason: request.reason,
      notifyUrl: request.notifyUrl,
      fundsAccount: request.fundsAccount ?? 'AVAILABLE',
      createdAt: now,
      successAt: undefined,
      fingerprint: request.fingerprint,
    };
    this.refunds.set(key(refund.mchid, refund.outRefundNo), refund);
    this.trades.markRefunded(trade);
    if (trade.profitSharing) this.splits?.refunded(trade, refund);
    this.autoSucceed(merchant, refund);
    return refund;
  }

  /**
   * Takes back refunds the state file kept; those still PROCESSING for a merchant whose refunds
   * succeed by themselves get their full delay again.
   */
  restore(refunds: Refund[], merchantOf: (mchid: string) => Merchant | undefined): void {
    for (const refund of refunds) {
      this.refunds.set(key(refund.mchid, refund.outRefundNo), refund);
      const merchant = merchantOf(refund.mchid);
      if (merchant) this.autoSucceed(merchant, refund);
    }
  }

  private autoSucceed(merchant: Merchant, refund: Refund): void {
    if (merchant.refundAutoSucceedMs === null) return;
    this.scheduler.after(merchant.refundAutoSucceedMs, () => {
      if (refund.status === 'PROCESSING') this.settle(refund.mchid, refund.outRefundNo, 'SUCCESS');
    });
  }

  all(): Refund[] {
    return [...this.refunds.values()];
  }

  find(mchid: string, outRefundNo: string): Refund | undefined {
    return this.refunds.get(key(mchid, outRefundNo));
  }

  get(mchid: string, outRefundNo: string): Refund {
    const refund = this.find(mchid, outRefundNo);
    if (!refund) throw resourceNotExists('退款单不存在');
    return refund;
  }

  forTrade(trade: Trade): Refund[] {
    return [...this.refunds.values()].filter(
      (refund) => refund.mchid === trade.mchid && refund.outTradeNo === trade.outTradeNo,
    );
  }

  /** Paid minus every refund that is not CLOSED: in-flight and abnormal refunds hold their amount. */
  refundableFen(trade: Trade): number {
    const held = this.forTrade(trade)
      .filter((refund) => refund.status !== 'CLOSED')
      .reduce((sum, refund) => sum + refund.refundFen, 0);
    return trade.totalFen - held;
  }

  settle(mchid: string, outRefundNo: string, outcome: RefundOutcome): Refund {
    const refund = this.get(mchid, outRefundNo);
    if (!NEXT_STATUSES[refund.status].includes(outcome)) {
      throw new WxpayWireError(409, 'INVALID_REQUEST', `退款单状态为${refund.status}，不能变为${outcome}`);
    }
    refund.status = outcome;
    if (outcome === 'SUCCESS') refund.successAt = this.runtime.clock.now();
    this.onSettled(refund);
    return refund;
  }

  /**
   * 发起异常退款: an ABNORMAL refund is sent again, to a bank card; it is PROCESSING until it
   * settles (the control API's succeed, or the automatic schedule).
   */
  applyAbnormal(mchid: string, refundId: string, outRefundNo: string, recipient: AbnormalRecipient): Refund {
    const refund = this.find(mchid, outRefundNo);
    if (!refund || refund.refundId !== refundId) throw resourceNotExists('退款单不存在');
    if (refund.status !== 'ABNORMAL')
      throw invalidRequest(`退款单状态为${refund.status}，不是退款异常，不能发起异常退款`);
    refund.status = 'PROCESSING';
    refund.abnormalRecipient = recipient;
    return refund;
  }

  private refundedTrade(mchid: string, request: RefundRequest): Trade {
    try {
      const trade = request.transactionId
        ? this.trades.getByTransactionId(mchid, request.transactionId)
        : this.trades.get(mchid, request.outTradeNo!);
      if (request.outTradeNo && trade.outTradeNo !== request.outTradeNo)
        throw resourceNotExists('订单不存在');
      return trade;
    } catch (error) {
      if (error instanceof WxpayWireError && error.status === 404) throw resourceNotExists('订单不存在');
      throw error;
    }
  }
}

function key(mchid: string, outRefundNo: string): string {
  return `${mchid}\u0000${outRefundNo}`;
}
