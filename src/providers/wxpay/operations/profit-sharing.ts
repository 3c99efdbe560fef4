/**
 * 分账 (profit sharing), APIv3: bind and unbind receivers (/v3/profitsharing/receivers/add|delete),
 * split a paid order that was created with settle_info.profit_sharing (/v3/profitsharing/orders),
 * query a split by out_order_no, unfreeze what is left (/v3/profitsharing/orders/unfreeze) and read
 * the unsplit amount (/v3/profitsharing/transactions/{transaction_id}/amounts). In partner mode the
 * same paths name the sub-merchant (sub_mchid, sub_appid). A receiver's name is encrypted with
 * WeChat Pay's public key (RSA-OAEP) and Wechatpay-Serial names that key; it exists in clear text
 * only in this call's arguments.
 */
import { PayError } from '../../../core/errors.ts';
import type {
  GatewaySplitStatus,
  ProfitSharingOperations,
  ReceiverRequest,
  SplitLineOutcome,
  SplitLineResult,
  SplitQuery,
  SplitReceiverType,
  SplitRequest,
  SplitResult,
  UnfreezeRequest,
} from '../../profit-sharing.ts';
import type { NotifyAck, NotifyAnswer } from '../../provider.ts';
import { segment, type WxpayContext } from '../context.ts';
import { ackNotify } from '../notify.ts';
import { encryptSensitive } from './abnormal-refund.ts';
import { parseSplitNotify } from './profit-sharing-notify.ts';
import { queryReturn, returnSplit } from './profit-sharing-returns.ts';

/** One line of a split as WeChat answers it (receivers[]). */
export interface SplitLineWire {
  type?: string;
  account?: string;
  amount?: number;
  description?: string;
  result?: string;
  fail_reason?: string;
  detail_id?: string;
  create_time?: string;
  finish_time?: string;
}

/** A split (or an unfreeze) as WeChat answers a create, a query or an unfreeze. */
export interface SplitOrderWire {
  sub_mchid?: string;
  transaction_id?: string;
  out_order_no?: string;
  order_id?: string;
  state?: string;
  receivers?: SplitLineWire[];
}

/** The receiver types this gateway takes: a merchant number, or an openid under the appid. */
export const WXPAY_RECEIVER_TYPES: readonly SplitReceiverType[] = ['MERCHANT_ID', 'PERSONAL_OPENID'];

const STATES: ReadonlySet<string> = new Set<GatewaySplitStatus>(['PROCESSING', 'FINISHED']);
const LINE_RESULTS: ReadonlySet<string> = new Set<SplitLineResult>(['PENDING', 'SUCCESS', 'CLOSED']);
const DESCRIPTION_MAX = 80;

/** The ids a body starts with: the sub-merchant's in partner mode, and the appid receivers are under. */
export function splitParties(context: WxpayContext): Record<string, string> {
  const { partner, merchant } = context;
  if (!partner) return { appid: merchant.appId };
  return {
    sub_mchid: partner.subMchId,
    appid: merchant.appId,
    ...(partner.subAppId ? { sub_appid: partner.subAppId } : {}),
  };
}

/** Partner mode: the sub-merchant as a query parameter of a GET. */
export function subMchQuery(context: WxpayContext): string {
  return context.partner ? `sub_mchid=${segment(context.partner.subMchId)}&` : '';
}

function receiverType(type: string): SplitReceiverType {
  if (!(WXPAY_RECEIVER_TYPES as readonly string[]).includes(type))
    throw new PayError(40001, {
      field: 'receiver.type',
      message: `a WeChat Pay receiver is one of ${WXPAY_RECEIVER_TYPES.join(', ')}, not ${type.slice(0, 40)}`,
    });
  return type as SplitReceiverType;
}

const clip = (text: string) => Array.from(text).slice(0, DESCRIPTION_MAX).join('');

function toLine(line: SplitLineWire): SplitLineOutcome {
  const result = line.result && LINE_RESULTS.has(line.result) ? (line.result as SplitLineResult) : null;
  if (!result || typeof line.amount !== 'number' || !line.type || !line.account)
    throw new PayError(50000, {
      field: 'receivers',
      message: `wxpay split line with result ${JSON.stringify(line.result ?? null).slice(0, 40)}`,
    });
  return {
    type: line.type as SplitReceiverType,
    account: line.account,
    amountFen: line.amount,
    description: line.description ?? '',
    result,
    failReason: line.fail_reason || null,
    detailId: line.detail_id ?? null,
    finishedAt: result !== 'PENDING' && line.finish_time ? new Date(line.finish_time) : null,
  };
}

export function toSplitResult(
  order: SplitOrderWire | null,
  where: { merchantId: string; outSplitNo: string; source: SplitResult['source'] },
): SplitResult {
  try {
    if (!order?.state || !STATES.has(order.state))
      throw new PayError(50000, {
        field: 'state',
        message: `wxpay split: unknown state ${JSON.stringify(order?.state ?? null).slice(0, 40)}`,
      });
    if (order.out_order_no !== undefined && order.out_order_no !== where.outSplitNo)
      throw new PayError(40002, {
        field: 'out_order_no',
        message: `wxpay split answer is for ${order.out_order_no.slice(0, 40)}, not ${where.outSplitNo}`,
      });
    return {
      merchantId: where.merchantId,
      provider: 'wxpay',
      outSplitNo: where.outSplitNo,
      splitId: order.order_id ?? null,
      status: order.state as GatewaySplitStatus,
      lines: (order.receivers ?? []).map(toLine),
      source: where.source,
    };
  } catch (error) {
    // An answer to a write that cannot be read may still mean the split was made: query it.
    if (error instanceof PayError && where.source === 'request' && !error.outcomeUnknown)
      throw new PayError(error.code, {
        message: error.message,
        ...(error.field ? { field: error.field } : {}),
        outcomeUnknown: true,
      });
    throw error;
  }
}

/** SYSTEM_ERROR answered below 5xx still leaves a write's outcome unknown. */
async function write<T>(send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (error) {
    if (error instanceof PayError && error.code === 40010 && !error.outcomeUnknown)
      throw new PayError(error.code, {
        message: error.message,
        ...(error.gatewayCode ? { gatewayCode: error.gatewayCode } : {}),
        details: error.details,
        cause: error,
        outcomeUnknown: true,
      });
    throw error;
  }
}

export async function addReceiver(context: WxpayContext, request: ReceiverRequest): Promise<void> {
  const { receiver } = request;
  const type = receiverType(receiver.type);
  if (!receiver.relationType)
    throw new PayError(40001, {
      field: 'receiver.relation_type',
      message: 'a WeChat Pay receiver needs its relation to the merchant (relation_type)',
    });
  if (receiver.relationType === 'CUSTOM' && !receiver.customRelation)
    throw new PayError(40001, {
      field: 'receiver.custom_relation',
      message: 'relation_type CUSTOM needs custom_relation',
    });
  if (type === 'MERCHANT_ID' && !receiver.name)
    throw new PayError(40001, {
      field: 'receiver.name',
      message: "a MERCHANT_ID receiver needs the merchant's full name",
    });
  const body: Record<string, unknown> = {
    ...splitParties(context),
    type,
    account: receiver.account,
    relation_type: receiver.relationType,
    ...(receiver.relationType === 'CUSTOM' ? { custom_relation: receiver.customRelation } : {}),
  };
  let serial: string | undefined;
  if (receiver.name) {
    const encryption = await context.keys.encryptionKey();
    serial = encryption.serial;
    body.name = encryptSensitive(encryption.key, receiver.name);
  }
  await context.transport.call<unknown>({
    api: 'profitsharing.receivers.add',
    method: 'POST',
    path: '/v3/profitsharing/receivers/add',
    body,
    write: true,
    ...(serial ? { serial } : {}),
  });
}

export async function removeReceiver(context: WxpayContext, request: ReceiverRequest): Promise<void> {
  await context.transport.call<unknown>({
    api: 'profitsharing.receivers.delete',
    method: 'POST',
    path: '/v3/profitsharing/receivers/delete',
    body: {
      ...splitParties(context),
      type: receiverType(request.receiver.type),
      account: request.receiver.account,
    },
    write: true,
  });
}

export async function split(context: WxpayContext, request: SplitRequest): Promise<SplitResult> {
  if (request.lines.length === 0)
    throw new PayError(40001, { field: 'receivers', message: 'a split needs at least one receiver' });
  for (const line of request.lines) {
    receiverType(line.type);
    if (!Number.isSafeInteger(line.amountFen) || line.amountFen <= 0)
      throw new PayError(40001, {
        field: 'receivers.amount',
        message: 'a split line is a positive fen amount',
      });
  }
  const reply = await write(() =>
    context.transport.call<SplitOrderWire>({
      api: 'profitsharing.orders',
      method: 'POST',
      path: '/v3/profitsharing/orders',
      body: {
        ...splitParties(context),
        transaction_id: request.transactionId,
        out_order_no: request.outSplitNo,
        receivers: request.lines.map((line) => ({
          type: line.type,
          account: line.account,
          amount: line.amountFen,
          description: clip(line.description),
        })),
        unfreeze_unsplit: request.finish,
      },
      write: true,
    }),
  );
  return toSplitResult(reply.data, {
    merchantId: request.merchantId,
    outSplitNo: request.outSplitNo,
    source: 'request',
  });
}

export async function querySplit(context: WxpayContext, query: SplitQuery): Promise<SplitResult> {
  const reply = await context.transport.call<SplitOrderWire>({
    api: 'profitsharing.orders.query',
    method: 'GET',
    path: `/v3/profitsharing/orders/${segment(query.outSplitNo)}?${subMchQuery(context)}transaction_id=${segment(query.transactionId)}`,
    write: false,
  });
  return toSplitResult(reply.data, {
    merchantId: query.merchantId,
    outSplitNo: query.outSplitNo,
    source: 'query',
  });
}

export async function unfreeze(context: WxpayContext, request: UnfreezeRequest): Promise<SplitResult> {
  const { appid: _appid, sub_appid: _subAppid, ...parties } = splitParties(context);
  const reply = await write(() =>
    context.transport.call<SplitOrderWire>({
      api: 'profitsharing.orders.unfreeze',
      method: 'POST',
      path: '/v3/profitsharing/orders/unfreeze',
      body: {
        ...parties,
        transaction_id: request.transactionId,
        out_order_no: request.outSplitNo,
        description: clip(request.description),
      },
      write: true,
    }),
  );
  return toSplitResult(reply.data, {
    merchantId: request.merchantId,
    outSplitNo: request.outSplitNo,
    source: 'request',
  });
}

export async function unsplitAmount(context: WxpayContext, transactionId: string): Promise<number> {
  const reply = await context.transport.call<{ transaction_id?: string; unsplit_amount?: number }>({
    api: 'profitsharing.amounts',
    method: 'GET',
    path: `/v3/profitsharing/transactions/${segment(transactionId)}/amounts`,
    write: false,
  });
  const amount = reply.data?.unsplit_amount;
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 0)
    throw new PayError(50000, {
      field: 'unsplit_amount',
      message: 'wxpay profitsharing amounts answer lacks unsplit_amount',
    });
  return amount;
}

/** The operations over the APIv3 context of a merchant's account. */
export function wxpayProfitSharingOperations(
  contextFor: (merchantId: string, account: string | undefined) => WxpayContext,
): ProfitSharingOperations {
  return {
    receiverTypes: WXPAY_RECEIVER_TYPES,
    // WeChat returns splits with return-orders first; a refund then draws only on what is unsplit.
    returnsWithRefund: false,
    addReceiver: async (request) => addReceiver(contextFor(request.merchantId, request.account), request),
    removeReceiver: async (request) =>
      removeReceiver(contextFor(request.merchantId, request.account), request),
    split: async (request) => split(contextFor(request.merchantId, request.account), request),
    querySplit: async (query) => querySplit(contextFor(query.merchantId, query.account), query),
    unfreeze: async (request) => unfreeze(contextFor(request.merchantId, request.account), request),
    unsplitAmount: async (query) =>
      unsplitAmount(contextFor(query.merchantId, query.account), query.transactionId),
    returnSplit: async (request) => returnSplit(contextFor(request.merchantId, request.account), request),
    queryReturn: async (query) => queryReturn(contextFor(query.merchantId, query.account), query),
    parseSplitNotify: async (merchantId, headers, rawBody, account) =>
      parseSplitNotify(contextFor(merchantId, account), headers, rawBody),
    ackSplitNotify: (answer: NotifyAnswer): NotifyAck => ackNotify(answer),
  };
}
