/**
 * 分账 on the emulator: the book of receivers, splits, unfreezes and returns of paid trades created
 * with settle_info.profit_sharing, and the money rules between them. Kept in memory only (as
 * transfer bills): after a restart the splits are gone.
 *
 * As strict as the gateway where its rules are known: a receiver is bound (per merchant and appid)
 * before money goes to it; the trade is paid and was created for splitting; what goes to receivers
 * stays within the merchant's max ratio (30% by default) and within what is unsplit; one
 * out_order_no one split (the same content again answers the same split, other content is
 * refused); an unfreeze gives the rest to the merchant and ends splitting; a return takes back at
 * most what a MERCHANT_ID receiver got from that split; a refund may not take money that sits
 * with receivers (it must be returned first) and draws on the unsplit amount first.
 */
import { createHash } from 'node:crypto';
import type { WxpayGateway } from './gateway.ts';
import type { Refund, SplitLedger } from './refunds.ts';
import { compactChinaTime, randomDigits } from './runtime.ts';
import type { Trade } from './trades.ts';
import { invalidField, invalidRequest, missingField, resourceNotExists } from './wire-errors.ts';

export type ReceiverType = 'MERCHANT_ID' | 'PERSONAL_OPENID' | 'PERSONAL_SUB_OPENID';
export const RECEIVER_TYPES: readonly ReceiverType[] = [
  'MERCHANT_ID',
  'PERSONAL_OPENID',
  'PERSONAL_SUB_OPENID',
];
export const RELATION_TYPES = [
  'STORE',
  'STAFF',
  'STORE_OWNER',
  'PARTNER',
  'HEADQUARTER',
  'BRAND',
  'DISTRIBUTOR',
  'USER',
  'SUPPLIER',
  'SERVICE_PROVIDER',
  'CUSTOM',
] as const;

export interface SplitReceiver {
  type: ReceiverType;
  account: string;
  /** Decrypted, in the emulator's memory only, so tests see what arrived. */
  name: string | undefined;
  relationType: string;
  customRelation: string | undefined;
}

export type LineResult = 'PENDING' | 'SUCCESS' | 'CLOSED';

export interface SplitLine {
  type: ReceiverType;
  account: string;
  amount: number;
  description: string;
  result: LineResult;
  failReason: string | undefined;
  detailId: string;
  createdAt: number;
  finishedAt: number | undefined;
}

export interface SplitOrder {
  /** Whose trade: the mchid, or the sub_mchid in partner mode. */
  mchid: string;
  /** Partner mode: the service provider that asked for it. */
  spMchid: string | undefined;
  kind: 'split' | 'unfreeze';
  transactionId: string;
  outTradeNo: string;
  outOrderNo: string;
  orderId: string;
  lines: SplitLine[];
  fingerprint: string;
}

export type ReturnResult = 'PROCESSING' | 'SUCCESS' | 'FAILED';

export interface SplitReturn {
  mchid: string;
  outOrderNo: string;
  orderId: string;
  outReturnNo: string;
  returnId: string;
  returnMchid: string;
  amount: number;
  description: string;
  result: ReturnResult;
  failReason: string | undefined;
  createdAt: number;
  finishedAt: number | undefined;
  fingerprint: string;
}

/** Per merchant (mchid or sub_mchid): set through the control API or the merchant registration. */
export interface ProfitSharingSettings {
  /** Where PROFITSHARING.* notifications go (the merchant platform's setting at WeChat). */
  notifyUrl?: string;
  /** Share of a trade that may go to receivers, 0..1 (WeChat's default is 30%). */
  maxRatio?: number;
}

export const DEFAULT_MAX_RATIO = 0.3;
/** Gateway time until a split line is paid (or closed). */
export const SPLIT_SETTLE_MS = 60_000;
/** Gateway time until a return goes through. */
export const RETURN_SETTLE_MS = 10_000;
const MAX_LINES = 50;
const OUT_ORDER_NO = /^[0-9A-Za-z_\-|*@]{1,64}$/;

type Json = Record<string, unknown>;

function text(body: Json, field: string, max: number, required = true): string | undefined {
  const value = body[field];
  if (value === undefined || value === null || value === '') {
    if (required) throw missingField(field);
    return undefined;
  }
  if (typeof value !== 'string') throw invalidField(field, value, '类型错误，应为字符串');
  if (Array.from(value).length > max) throw invalidField(field, '(too long)', `长度不能超过${max}`);
  return value;
}

const fingerprintOf = (value: unknown) => createHash('sha256').update(JSON.stringify(value)).digest('hex');

export class ProfitSharingBook implements SplitLedger {
  /** `${owner}\0${appid}` -> `${type}\0${account}` -> receiver. */
  private readonly receivers = new Map<string, Map<string, SplitReceiver>>();
  private readonly orders = new Map<string, SplitOrder>();
  private readonly returns = new Map<string, SplitReturn>();
  /** Trades whose splitting has ended (unfrozen), by `${owner}\0${transactionId}`. */
  private readonly finished = new Set<string>();
  /** What each refund of a split trade took from the unsplit amount, by `${owner}\0${outRefundNo}`. */
  private readonly refundDraws = new Map<string, { transactionId: string; fen: number }>();
  readonly settings = new Map<string, ProfitSharingSettings>();
  /** Receiver accounts the sandbox makes fail (a closed or frozen account): their lines close. */
  readonly closedAccounts = new Set<string>();

  constructor(private readonly gateway: WxpayGateway) {}

  configure(mchid: string, settings: ProfitSharingSettings): ProfitSharingSettings {
    if (settings.maxRatio !== undefined && !(settings.maxRatio >= 0 && settings.maxRatio <= 1))
      throw invalidField('maxRatio', settings.maxRatio, '应为0到1之间的比例');
    if (settings.notifyUrl !== undefined && !/^https?:\/\/[^?#\s]+$/.test(settings.notifyUrl))
      throw invalidField('notifyUrl', settings.notifyUrl, '应为不带参数的URL');
    const merged = { ...this.settings.get(mchid), ...settings };
    this.settings.set(mchid, merged);
    return merged;
  }

  /** The sub-merchant's own setting, else its service provider's, else the merchant registration's. */
  notifyUrlFor(mchid: string, spMchid: string | undefined): string | undefined {
    return (
      this.settings.get(mchid)?.notifyUrl ??
      (spMchid ? this.settings.get(spMchid)?.notifyUrl : undefined) ??
      this.gateway.merchants.get(spMchid ?? mchid)?.profitSharingNotifyUrl
    );
  }

  maxRatioOf(mchid: string): number {
    return this.settings.get(mchid)?.maxRatio ?? DEFAULT_MAX_RATIO;
  }

  // --- receivers

  addReceiver(owner: string, appid: string, input: Json, name: string | undefined): SplitReceiver {
    const type = this.receiverType(input.type);
    const account = text(input, 'account', 64)!;
    const relationType = text(input, 'relation_type', 32)!;
    if (!(RELATION_TYPES as readonly string[]).includes(relationType))
      throw invalidField('relation_type', relationType, `取值应为${RELATION_TYPES.join('|')}`);
    const customRelation = text(input, 'custom_relation', 10, relationType === 'CUSTOM');
    if (type === 'MERCHANT_ID' && !name) throw missingField('name');
    if (type === 'MERCHANT_ID' && account === owner)
      throw invalidRequest('分账接收方不能是分账方自己', { field: 'account' });
    const receiver: SplitReceiver = { type, account, name, relationType, customRelation };
    let bound = this.receivers.get(`${owner}\0${appid}`);
    if (!bound) {
      bound = new Map();
      this.receivers.set(`${owner}\0${appid}`, bound);
    }
    bound.set(`${type}\0${account}`, receiver);
    return receiver;
  }

  removeReceiver(owner: string, appid: string, input: Json): { type: ReceiverType; account: string } {
    const type = this.receiverType(input.type);
    const account = text(input, 'account', 64)!;
    this.receivers.get(`${owner}\0${appid}`)?.delete(`${type}\0${account}`);
    return { type, account };
  }

  receiversOf(owner: string): Array<SplitReceiver & { appid: string }> {
    const all: Array<SplitReceiver & { appid: string }> = [];
    for (const [key, bound] of this.receivers) {
      const [mchid, appid] = key.split('\0');
      if (mchid === owner) for (const receiver of bound.values()) all.push({ ...receiver, appid: appid! });
    }
    return all;
  }

  private receiverType(value: unknown): ReceiverType {
    if (value === undefined || value === null || value === '') throw missingField('type');
    if (!(RECEIVER_TYPES as readonly unknown[]).includes(value))
      throw invalidField('type', value, `取值应为${RECEIVER_TYPES.join('|')}`);
    return value as ReceiverType;
  }

  // --- splits

  /** The paid trade a request names by transaction_id, if the signer may see it. */
  trade(owner: string, transactionId: string): Trade {
    const trade = this.gateway.trades.findPaid(transactionId);
    if (!trade || trade.mchid !== owner) throw resourceNotExists('订单不存在');
    return trade;
  }

  split(owner: string, spMchid: string | undefined, appid: string, body: Json): SplitOrder {
    const transactionId = text(body, 'transaction_id', 32)!;
    const outOrderNo = this.outOrderNo(body);
    const unfreezeUnsplit = body.unfreeze_unsplit;
    if (unfreezeUnsplit === undefined) throw missingField('unfreeze_unsplit');
    if (typeof unfreezeUnsplit !== 'boolean')
      throw invalidField('unfreeze_unsplit', unfreezeUnsplit, '类型错误，应为布尔值');
    const receivers = body.receivers;
    if (!Array.isArray(receivers) || receivers.length === 0) throw missingField('receivers');
    if (receivers.length > MAX_LINES)
      throw invalidField('receivers', receivers.length, `最多${MAX_LINES}个接收方`);
    const lines = receivers.map((entry, index) => {
      if (!entry || typeof entry !== 'object') throw invalidField(`receivers[${index}]`, entry, '应为对象');
      const line = entry as Json;
      const type = this.receiverType(line.type);
      const account = text(line, 'account', 64)!;
      const amount = line.amount;
      if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 1)
        throw invalidField(`receivers[${index}].amount`, amount, '应为大于0的整数（单位：分）');
      const description = text(line, 'description', 80)!;
      return { type, account, amount, description };
    });
    const fingerprint = fingerprintOf(['split', appid, transactionId, lines, unfreezeUnsplit]);
    const existing = this.orders.get(`${owner}\0${outOrderNo}`);
    if (existing) return this.again(existing, fingerprint);
    const trade = this.splittable(owner, transactionId);
    const bound = this.receivers.get(`${owner}\0${appid}`);
    for (const line of lines) {
      if (line.type === 'MERCHANT_ID' && line.account === owner)
        throw invalidRequest('分账接收方不能是分账方自己', { field: 'receivers' });
      if (!bound?.has(`${line.type}\0${line.account}`))
        throw invalidRequest('分账接收方未添加或已删除，请先添加分账接收方', {
          field: 'receivers',
          value: line.account,
        });
    }
    const total = lines.reduce((sum, line) => sum + line.amount, 0);
    const unsplit = this.unsplitFen(trade);
    if (total > unsplit)
      throw invalidRequest('分账金额超出订单待分账金额', { field: 'receivers', total, unsplit });
    const allowed = Math.floor(trade.totalFen * this.maxRatioOf(owner));
    const alreadyOut = this.linesOf(trade)
      .filter((line) => line.result !== 'CLOSED')
      .reduce((sum, line) => sum + line.amount, 0);
    if (alreadyOut + total > allowed)
      throw invalidRequest('分账金额超出最大分账比例', {
        field: 'receivers',
        total,
        allowed: allowed - alreadyOut,
      });
    const now = this.gateway.runtime.clock.now();
    const order = this.record({
      mchid: owner,
      spMchid,
      kind: 'split',
      transactionId,
      outTradeNo: trade.outTradeNo,
      outOrderNo,
      orderId: this.newId('3008', now),
      lines: lines.map((line) => ({
        ...line,
        result: 'PENDING',
        failReason: undefined,
        detailId: this.newId('3600', now),
        createdAt: now,
        finishedAt: undefined,
      })),
      fingerprint,
    });
    if (unfreezeUnsplit) this.finished.add(`${owner}\0${transactionId}`);
    this.gateway.scheduler.after(SPLIT_SETTLE_MS, () => this.settle(order));
    return order;
  }

  /** Gives what is unsplit to the merchant and ends splitting of the trade. */
  unfreeze(owner: string, spMchid: string | undefined, body: Json): SplitOrder {
    const transactionId = text(body, 'transaction_id', 32)!;
    const outOrderNo = this.outOrderNo(body);
    const description = text(body, 'description', 80)!;
    const fingerprint = fingerprintOf(['unfreeze', transactionId, description]);
    const existing = this.orders.get(`${owner}\0${outOrderNo}`);
    if (existing) return this.again(existing, fingerprint);
    const trade = this.splittable(owner, transactionId);
    const unsplit = this.unsplitFen(trade);
    if (unsplit === 0) throw invalidRequest('订单无待分账金额，无需解冻', { field: 'transaction_id' });
    const now = this.gateway.runtime.clock.now();
    const order = this.record({
      mchid: owner,
      spMchid,
      kind: 'unfreeze',
      transactionId,
      outTradeNo: trade.outTradeNo,
      outOrderNo,
      orderId: this.newId('3008', now),
      lines: [
        {
          type: 'MERCHANT_ID',
          account: owner,
          amount: unsplit,
          description,
          result: 'PENDING',
          failReason: undefined,
          detailId: this.newId('3600', now),
          createdAt: now,
          finishedAt: undefined,
        },
      ],
      fingerprint,
    });
    this.finished.add(`${owner}\0${transactionId}`);
    this.gateway.scheduler.after(SPLIT_SETTLE_MS, () => this.settle(order));
    return order;
  }

  order(owner: string, outOrderNo: string, transactionId: string | undefined): SplitOrder {
    const order = this.orders.get(`${owner}\0${outOrderNo}`);
    if (!order || (transactionId !== undefined && order.transactionId !== transactionId))
      throw resourceNotExists('分账单不存在');
    return order;
  }

  findOrder(owner: string, outOrderNo: string): SplitOrder | undefined {
    return this.orders.get(`${owner}\0${outOrderNo}`);
  }

  /** Pays every PENDING line now: a closed account's line closes, its money back to the merchant. */
  settle(order: SplitOrder): SplitOrder {
    const now = this.gateway.runtime.clock.now();
    for (const line of order.lines) {
      if (line.result !== 'PENDING') continue;
      const closed = order.kind === 'split' && this.closedAccounts.has(line.account);
      line.result = closed ? 'CLOSED' : 'SUCCESS';
      line.failReason = closed ? 'ACCOUNT_ABNORMAL' : undefined;
      line.finishedAt = now;
      if (order.kind === 'split')
        this.gateway.notifier.splitLineSettled(order, line, this.notifyUrlFor(order.mchid, order.spMchid));
    }
    this.gateway.changed();
    return order;
  }

  // --- amounts

  /** Frozen for splitting: the trade less what went to receivers and what refunds drew, until unfrozen. */
  unsplitFen(trade: Trade): number {
    if (!trade.profitSharing || !trade.transactionId) return 0;
    if (this.finished.has(`${trade.mchid}\0${trade.transactionId}`)) return 0;
    const split = this.linesOf(trade)
      .filter((line) => line.result !== 'CLOSED')
      .reduce((sum, line) => sum + line.amount, 0);
    return Math.max(0, trade.totalFen - split - this.drawnByRefunds(trade));
  }

  /** Money that sits with receivers: split to them and not returned. */
  heldByReceivers(trade: Trade): number {
    if (!trade.profitSharing || !trade.transactionId) return 0;
    const split = this.linesOf(trade)
      .filter((line) => line.result !== 'CLOSED')
      .reduce((sum, line) => sum + line.amount, 0);
    const returned = [...this.returns.values()]
      .filter((entry) => entry.mchid === trade.mchid && entry.result === 'SUCCESS')
      .filter(
        (entry) =>
          this.orders.get(`${trade.mchid}\0${entry.outOrderNo}`)?.transactionId === trade.transactionId,
      )
      .reduce((sum, entry) => sum + entry.amount, 0);
    return split - returned;
  }

  /** A refund of a split trade takes from the unsplit amount first. */
  refunded(trade: Trade, refund: Refund): void {
    if (!trade.profitSharing || !trade.transactionId) return;
    const fen = Math.min(refund.refundFen, this.unsplitFen(trade));
    if (fen > 0)
      this.refundDraws.set(`${trade.mchid}\0${refund.outRefundNo}`, {
        transactionId: trade.transactionId,
        fen,
      });
  }

  private drawnByRefunds(trade: Trade): number {
    let drawn = 0;
    for (const [key, draw] of this.refundDraws) {
      if (draw.transactionId !== trade.transactionId) continue;
      const [mchid, outRefundNo] = key.split('\0');
      if (mchid !== trade.mchid) continue;
      // A closed refund gives back what it took.
      if (this.gateway.refunds.find(mchid, outRefundNo!)?.status !== 'CLOSED') drawn += draw.fen;
    }
    return drawn;
  }

  private linesOf(trade: Trade): SplitLine[] {
    return [...this.orders.values()]
      .filter(
        (order) =>
          order.kind === 'split' &&
          order.mchid === trade.mchid &&
          order.transactionId === trade.transactionId,
      )
      .flatMap((order) => order.lines);
  }

  // --- returns

  returnSplit(owner: string, body: Json): SplitReturn {
    const orderId = text(body, 'order_id', 64, false);
    const outOrderNoGiven = text(body, 'out_order_no', 64, false);
    if (!orderId && !outOrderNoGiven) throw missingField('out_order_no');
    const outReturnNo = text(body, 'out_return_no', 64)!;
    if (!OUT_ORDER_NO.test(outReturnNo))
      throw invalidField('out_return_no', outReturnNo, '应为1-64位数字、大小写字母或_-|*@');
    const returnMchid = text(body, 'return_mchid', 32)!;
    const amount = body.amount;
    if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 1)
      throw invalidField('amount', amount, '应为大于0的整数（单位：分）');
    const description = text(body, 'description', 80)!;
    const order = orderId
      ? [...this.orders.values()].find((entry) => entry.mchid === owner && entry.orderId === orderId)
      : this.orders.get(`${owner}\0${outOrderNoGiven}`);
    if (!order || (outOrderNoGiven && order.outOrderNo !== outOrderNoGiven) || order.kind !== 'split')
      throw resourceNotExists('分账单不存在');
    const fingerprint = fingerprintOf([order.outOrderNo, returnMchid, amount, description]);
    const existing = this.returns.get(`${owner}\0${outReturnNo}`);
    if (existing) {
      if (existing.fingerprint !== fingerprint)
        throw invalidRequest('商户回退单号已存在，且本次请求参数与原请求不一致', { field: 'out_return_no' });
      return existing;
    }
    const paid = order.lines
      .filter((line) => line.type === 'MERCHANT_ID' && line.account === returnMchid)
      .reduce((sum, line) => sum + (line.result === 'SUCCESS' ? line.amount : 0), 0);
    if (paid === 0)
      throw invalidRequest('回退方不是该分账单已分账成功的商户类型接收方', { field: 'return_mchid' });
    const returned = [...this.returns.values()]
      .filter((entry) => entry.mchid === owner && entry.outOrderNo === order.outOrderNo)
      .filter((entry) => entry.returnMchid === returnMchid && entry.result !== 'FAILED')
      .reduce((sum, entry) => sum + entry.amount, 0);
    if (returned + amount > paid)
      throw invalidRequest('回退金额超出可回退金额', { field: 'amount', returnable: paid - returned });
    const now = this.gateway.runtime.clock.now();
    const entry: SplitReturn = {
      mchid: owner,
      outOrderNo: order.outOrderNo,
      orderId: order.orderId,
      outReturnNo,
      returnId: this.newId('3008', now),
      returnMchid,
      amount,
      description,
      result: 'PROCESSING',
      failReason: undefined,
      createdAt: now,
      finishedAt: undefined,
      fingerprint,
    };
    this.returns.set(`${owner}\0${outReturnNo}`, entry);
    this.gateway.scheduler.after(RETURN_SETTLE_MS, () => {
      if (entry.result !== 'PROCESSING') return;
      const closed = this.closedAccounts.has(returnMchid);
      entry.result = closed ? 'FAILED' : 'SUCCESS';
      entry.failReason = closed ? 'ACCOUNT_ABNORMAL' : undefined;
      entry.finishedAt = this.gateway.runtime.clock.now();
      this.gateway.changed();
    });
    return entry;
  }

  getReturn(owner: string, outReturnNo: string, outOrderNo: string | undefined): SplitReturn {
    const entry = this.returns.get(`${owner}\0${outReturnNo}`);
    if (!entry || (outOrderNo !== undefined && entry.outOrderNo !== outOrderNo))
      throw resourceNotExists('回退单不存在');
    return entry;
  }

  // --- helpers

  private outOrderNo(body: Json): string {
    const outOrderNo = text(body, 'out_order_no', 64)!;
    if (!OUT_ORDER_NO.test(outOrderNo))
      throw invalidField('out_order_no', outOrderNo, '应为1-64位数字、大小写字母或_-|*@');
    return outOrderNo;
  }

  /** The same number again: the same split if the content is the same, else refused. */
  private again(existing: SplitOrder, fingerprint: string): SplitOrder {
    if (existing.fingerprint !== fingerprint)
      throw invalidRequest('商户分账单号已存在，且本次请求参数与原请求不一致', { field: 'out_order_no' });
    return existing;
  }

  private splittable(owner: string, transactionId: string): Trade {
    const trade = this.trade(owner, transactionId);
    if (!trade.profitSharing)
      throw invalidRequest('该笔订单不是分账订单（下单时未指定settle_info.profit_sharing）', {
        field: 'transaction_id',
      });
    if (trade.tradeState !== 'SUCCESS' && trade.tradeState !== 'REFUND')
      throw invalidRequest('订单未支付成功，不能分账', { field: 'transaction_id' });
    if (this.finished.has(`${owner}\0${transactionId}`))
      throw invalidRequest('订单已完结分账（已解冻），不能再分账', { field: 'transaction_id' });
    return trade;
  }

  private record(order: SplitOrder): SplitOrder {
    this.orders.set(`${order.mchid}\0${order.outOrderNo}`, order);
    return order;
  }

  private newId(prefix: string, now: number): string {
    return `${prefix}${compactChinaTime(now).slice(0, 8)}${randomDigits(this.gateway.runtime.random, 16)}`;
  }
}
