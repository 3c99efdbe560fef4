/**
 * 分账回退: take a split back from a MERCHANT_ID receiver (POST /v3/profitsharing/return-orders,
 * query by out_return_no). WeChat refunds a split order only from what is unsplit, so the split
 * money must come back this way before it can be refunded.
 */
import { PayError } from '../../../core/errors.ts';
import type { ReturnQuery, ReturnRequest, ReturnResult, ReturnStatus } from '../../profit-sharing.ts';
import { segment, type WxpayContext } from '../context.ts';

/** A return as WeChat answers a create or a query. */
export interface ReturnOrderWire {
  sub_mchid?: string;
  order_id?: string;
  out_order_no?: string;
  out_return_no?: string;
  return_id?: string;
  return_mchid?: string;
  amount?: number;
  description?: string;
  result?: string;
  fail_reason?: string;
  create_time?: string;
  finish_time?: string;
}

const RESULTS: ReadonlySet<string> = new Set<ReturnStatus>(['PROCESSING', 'SUCCESS', 'FAILED']);
const DESCRIPTION_MAX = 80;

export function toReturnResult(
  order: ReturnOrderWire | null,
  where: { merchantId: string; outReturnNo: string; outSplitNo: string; source: ReturnResult['source'] },
): ReturnResult {
  if (!order?.result || !RESULTS.has(order.result) || typeof order.amount !== 'number')
    throw new PayError(50000, {
      field: 'result',
      message: `wxpay split return: unknown result ${JSON.stringify(order?.result ?? null).slice(0, 40)}`,
      outcomeUnknown: where.source === 'request',
    });
  if (order.out_return_no !== undefined && order.out_return_no !== where.outReturnNo)
    throw new PayError(40002, {
      field: 'out_return_no',
      message: `wxpay split return answer is for ${order.out_return_no.slice(0, 40)}, not ${where.outReturnNo}`,
      outcomeUnknown: where.source === 'request',
    });
  const status = order.result as ReturnStatus;
  return {
    merchantId: where.merchantId,
    provider: 'wxpay',
    outReturnNo: where.outReturnNo,
    outSplitNo: order.out_order_no ?? where.outSplitNo,
    returnId: order.return_id ?? null,
    status,
    amountFen: order.amount,
    failReason: order.fail_reason || null,
    finishedAt: status !== 'PROCESSING' && order.finish_time ? new Date(order.finish_time) : null,
    source: where.source,
  };
}

export async function returnSplit(context: WxpayContext, request: ReturnRequest): Promise<ReturnResult> {
  if (!Number.isSafeInteger(request.amountFen) || request.amountFen <= 0)
    throw new PayError(40001, { field: 'amount', message: 'a split return is a positive fen amount' });
  let reply: Awaited<ReturnType<typeof context.transport.call<ReturnOrderWire>>>;
  try {
    reply = await context.transport.call<ReturnOrderWire>({
      api: 'profitsharing.return-orders',
      method: 'POST',
      path: '/v3/profitsharing/return-orders',
      body: {
        ...(context.partner ? { sub_mchid: context.partner.subMchId } : {}),
        // WeChat takes either number of the split; its own is preferred when we have it.
        ...(request.splitId ? { order_id: request.splitId } : { out_order_no: request.outSplitNo }),
        out_return_no: request.outReturnNo,
        return_mchid: request.receiverAccount,
        amount: request.amountFen,
        description: Array.from(request.description).slice(0, DESCRIPTION_MAX).join(''),
      },
      write: true,
    });
  } catch (error) {
    // SYSTEM_ERROR: the gateway may have taken it; a query by out_return_no settles it.
    if (error instanceof PayError && error.code === 40010 && !error.outcomeUnknown)
      throw new PayError(40010, {
        message: error.message,
        ...(error.gatewayCode ? { gatewayCode: error.gatewayCode } : {}),
        details: error.details,
        cause: error,
        outcomeUnknown: true,
      });
    throw error;
  }
  return toReturnResult(reply.data, {
    merchantId: request.merchantId,
    outReturnNo: request.outReturnNo,
    outSplitNo: request.outSplitNo,
    source: 'request',
  });
}

export async function queryReturn(context: WxpayContext, query: ReturnQuery): Promise<ReturnResult> {
  const sub = context.partner ? `sub_mchid=${segment(context.partner.subMchId)}&` : '';
  const reply = await context.transport.call<ReturnOrderWire>({
    api: 'profitsharing.return-orders.query',
    method: 'GET',
    path: `/v3/profitsharing/return-orders/${segment(query.outReturnNo)}?${sub}out_order_no=${segment(query.outSplitNo)}`,
    write: false,
  });
  return toReturnResult(reply.data, {
    merchantId: query.merchantId,
    outReturnNo: query.outReturnNo,
    outSplitNo: query.outSplitNo,
    source: 'query',
  });
}
