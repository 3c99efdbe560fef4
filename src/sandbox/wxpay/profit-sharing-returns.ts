/**
 * 分账回退 on the emulator: a MERCHANT_ID receiver gives back (part of) what it got from one split.
 * At most what its SUCCESS lines of that split paid, less earlier returns that did not fail; the
 * same out_return_no with the same content answers the same return. PROCESSING, then SUCCESS (or
 * FAILED for an account the sandbox marked closed) after RETURN_SETTLE_MS of gateway time.
 */
import type { WxpayGateway } from './gateway.ts';
import type { SplitOrder } from './profit-sharing.ts';
import { invalidField, invalidRequest, missingField, resourceNotExists } from './wire-errors.ts';
import { fingerprintOf, fieldText as text } from './wire-requests.ts';

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

/** Gateway time until a return goes through. */
export const RETURN_SETTLE_MS = 10_000;
const OUT_RETURN_NO = /^[0-9A-Za-z_\-|*@]{1,64}$/;

type Json = Record<string, unknown>;
type SplitLookup = (
  owner: string,
  by: { orderId: string } | { outOrderNo: string },
) => SplitOrder | undefined;

export class SplitReturnBook {
  private readonly returns = new Map<string, SplitReturn>();

  constructor(
    private readonly gateway: WxpayGateway,
    private readonly closedAccounts: ReadonlySet<string>,
    private readonly splitOf: SplitLookup,
  ) {}

  returnSplit(owner: string, body: Json): SplitReturn {
    const orderId = text(body, 'order_id', 64, false);
    const outOrderNoGiven = text(body, 'out_order_no', 64, false);
    if (!orderId && !outOrderNoGiven) throw missingField('out_order_no');
    const outReturnNo = text(body, 'out_return_no', 64)!;
    if (!OUT_RETURN_NO.test(outReturnNo))
      throw invalidField('out_return_no', outReturnNo, '应为1-64位数字、大小写字母或_-|*@');
    const returnMchid = text(body, 'return_mchid', 32)!;
    const amount = body.amount;
    if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 1)
      throw invalidField('amount', amount, '应为大于0的整数（单位：分）');
    const description = text(body, 'description', 80)!;
    const order = this.splitOf(owner, orderId ? { orderId } : { outOrderNo: outOrderNoGiven! });
    if (!order || (outOrderNoGiven && order.outOrderNo !== outOrderNoGiven))
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
      returnId: this.gateway.profitSharing.newId('3008', now),
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

  /** Fen given back by returns that succeeded, of the owner's splits that `inTrade` accepts. */
  succeededFor(owner: string, inTrade: (outOrderNo: string) => boolean): number {
    return [...this.returns.values()]
      .filter((entry) => entry.mchid === owner && entry.result === 'SUCCESS' && inTrade(entry.outOrderNo))
      .reduce((sum, entry) => sum + entry.amount, 0);
  }
}
