/**
 * Splitting a royalty-frozen trade (分账): alipay.trade.order.settle (async mode, its result comes by
 * alipay.trade.order.settle.notify to the call's notify_url, or by alipay.trade.order.settle.query),
 * royalty_finish to unfreeze what is left (分账完结), and alipay.trade.order.onsettle.query for what is
 * still frozen. out_request_no (our outSplitNo) is the idempotency key of a settle.
 */
import { PayError } from '../../../core/errors.ts';
import { type Fen, fenToYuan } from '../../../core/money.ts';
import type {
  SplitLine,
  SplitLineOutcome,
  SplitLineResult,
  SplitQuery,
  SplitRequest,
  SplitResult,
  UnfreezeRequest,
} from '../../profit-sharing.ts';
import type { AlipayContext } from '../context.ts';
import { parseBeijingTime } from '../sign.ts';
import { fenOf, malformed } from './results.ts';
import { accountTypeOf, receiverTypeOf } from './royalty-relation.ts';

const LINE_STATES: Readonly<Record<string, SplitLineResult>> = {
  SUCCESS: 'SUCCESS',
  PROCESSING: 'PENDING',
  FAIL: 'CLOSED',
};

const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);

function royaltyParameters(lines: readonly SplitLine[]): Record<string, string>[] {
  return lines.map((line, index) => {
    if (!Number.isSafeInteger(line.amountFen) || line.amountFen <= 0)
      throw new PayError(40001, {
        field: `lines[${index}].amount`,
        message: 'a split line moves a positive integer of fen',
      });
    if (typeof line.account !== 'string' || line.account === '')
      throw new PayError(40001, {
        field: `lines[${index}].account`,
        message: 'a split line needs an account',
      });
    return {
      royalty_type: 'transfer',
      trans_in_type: accountTypeOf(line.type, `lines[${index}].type`),
      trans_in: line.account,
      amount: fenToYuan(line.amountFen),
      desc: line.description,
    };
  });
}

interface SettleCall {
  merchantId: string;
  transactionId: string;
  outSplitNo: string;
  lines: readonly SplitLine[];
  finish: boolean;
  notifyUrl: string;
}

async function settle(context: AlipayContext, call: SettleCall): Promise<SplitResult> {
  if (call.lines.length === 0 && !call.finish)
    throw new PayError(40001, { field: 'lines', message: 'a split needs at least one line' });
  const { response } = await context.transport.call({
    method: 'alipay.trade.order.settle',
    bizContent: {
      out_request_no: call.outSplitNo,
      trade_no: call.transactionId,
      // Empty with royalty_finish: nothing to split, only unfreeze what is left.
      royalty_parameters: royaltyParameters(call.lines),
      extend_params: { royalty_finish: call.finish ? 'true' : 'false' },
      royalty_mode: 'async',
    },
    notifyUrl: call.notifyUrl,
    write: true,
  });
  if (response.trade_no !== undefined && response.trade_no !== call.transactionId)
    throw new PayError(50000, {
      field: 'trade_no',
      gatewayCode: 'MALFORMED_RESPONSE',
      message: `alipay settle answer is for another trade than ${call.transactionId}`,
      outcomeUnknown: true,
    });
  return {
    merchantId: call.merchantId,
    provider: 'alipay',
    outSplitNo: call.outSplitNo,
    splitId: text(response.settle_no),
    // Async mode: accepted; each line's result comes by notification or query.
    status: call.lines.length > 0 ? 'PROCESSING' : 'FINISHED',
    lines: call.lines.map((line) => ({ ...line, result: 'PENDING' })),
    source: 'request',
  };
}

export async function splitTrade(context: AlipayContext, request: SplitRequest): Promise<SplitResult> {
  return settle(context, request);
}

export async function unfreezeTrade(context: AlipayContext, request: UnfreezeRequest): Promise<SplitResult> {
  return settle(context, { ...request, lines: [], finish: true });
}

/** One royalty_detail_list entry; replenish entries (补差) are Alipay's own and not our lines. */
function toLineOutcome(detail: Record<string, unknown>, what: string): SplitLineOutcome | null {
  if (detail.operation_type !== undefined && detail.operation_type !== 'transfer') return null;
  const type = receiverTypeOf(detail.trans_in_type);
  const account = text(detail.trans_in);
  if (!type) throw malformed(what, 'trans_in_type');
  if (!account) throw malformed(what, 'trans_in');
  const result = typeof detail.state === 'string' ? LINE_STATES[detail.state] : undefined;
  if (!result) throw malformed(what, 'state');
  return {
    type,
    account,
    amountFen: fenOf(detail.amount, 'amount', what),
    description: text(detail.desc) ?? '',
    result,
    failReason: result === 'CLOSED' ? (text(detail.error_code) ?? text(detail.error_desc) ?? 'FAIL') : null,
    detailId: text(detail.detail_id),
    finishedAt: result === 'PENDING' ? null : parseBeijingTime(text(detail.execute_dt) ?? undefined),
  };
}

export function toLineOutcomes(list: unknown, what: string): SplitLineOutcome[] {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw malformed(what, 'royalty_detail_list');
  return list.flatMap((detail) => {
    if (typeof detail !== 'object' || detail === null) throw malformed(what, 'royalty_detail_list');
    const line = toLineOutcome(detail as Record<string, unknown>, what);
    return line ? [line] : [];
  });
}

export async function querySettle(context: AlipayContext, query: SplitQuery): Promise<SplitResult> {
  const { response } = await context.transport.call({
    method: 'alipay.trade.order.settle.query',
    bizContent: { out_request_no: query.outSplitNo, trade_no: query.transactionId },
    write: false,
  });
  if (response.out_request_no !== undefined && response.out_request_no !== query.outSplitNo)
    throw malformed('settle query answer', 'out_request_no');
  const lines = toLineOutcomes(response.royalty_detail_list, 'settle query answer');
  return {
    merchantId: query.merchantId,
    provider: 'alipay',
    outSplitNo: query.outSplitNo,
    splitId: text(response.settle_no),
    status: lines.some((line) => line.result === 'PENDING') ? 'PROCESSING' : 'FINISHED',
    lines,
    source: 'query',
  };
}

export async function unsettledAmount(context: AlipayContext, transactionId: string): Promise<Fen> {
  const { response } = await context.transport.call({
    method: 'alipay.trade.order.onsettle.query',
    bizContent: { trade_no: transactionId },
    write: false,
  });
  return fenOf(response.unsettled_amount, 'unsettled_amount', 'onsettle query answer');
}
