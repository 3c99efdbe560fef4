/**
 * Profit sharing at Alipay (商家分账) behind ProfitSharingOperations: receivers by royalty relation,
 * splits by alipay.trade.order.settle, and the alipay.trade.order.settle.notify message. Splits go
 * back to the merchant only with a refund (refund_royalty_parameters), so there is no returnSplit.
 */
import { PayError } from '../../../core/errors.ts';
import type { ProfitSharingOperations, SplitNotification } from '../../profit-sharing.ts';
import type { NotifyAck, NotifyAnswer } from '../../provider.ts';
import type { AlipayContext } from '../context.ts';
import { decodeForm, formCharset } from '../form.ts';
import { ackNotify, assertFresh, headerValue, verifyCallbackFields } from '../notify.ts';
import { ALIPAY_RECEIVER_TYPES, bindReceiver, unbindReceiver } from './royalty-relation.ts';
import { querySettle, splitTrade, toLineOutcomes, unfreezeTrade, unsettledAmount } from './settle.ts';

export const SETTLE_NOTIFY_METHOD = 'alipay.trade.order.settle.notify';

/** Alipay resends a message for about a day; an older one can only be a replay. */
const MESSAGE_MAX_AGE_MS = 25 * 3600_000;

const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);

function settleFields(unsigned: Record<string, string>): Record<string, unknown> {
  // The open-platform message form (msg_method + biz_content JSON), or the same fields flat.
  if (unsigned.biz_content !== undefined) {
    try {
      const biz = JSON.parse(unsigned.biz_content) as unknown;
      if (typeof biz === 'object' && biz !== null && !Array.isArray(biz))
        return biz as Record<string, unknown>;
    } catch {
      // Reported below, with the field named.
    }
    throw new PayError(40001, {
      field: 'biz_content',
      message: 'alipay settle notification biz_content is not a JSON object',
    });
  }
  const fields: Record<string, unknown> = { ...unsigned };
  if (unsigned.royalty_detail_list !== undefined) {
    try {
      fields.royalty_detail_list = JSON.parse(unsigned.royalty_detail_list) as unknown;
    } catch {
      throw new PayError(40001, {
        field: 'royalty_detail_list',
        message: 'alipay settle notification royalty_detail_list is not JSON',
      });
    }
  }
  return fields;
}

export function parseSettleNotify(
  context: AlipayContext,
  headers: Record<string, string | string[] | undefined>,
  rawBody: Buffer,
): SplitNotification {
  const { merchant } = context;
  const fields = decodeForm(rawBody, formCharset(headerValue(headers, 'content-type'), rawBody));
  const unsigned = verifyCallbackFields(merchant, fields, 'settle notification');
  const method = unsigned.msg_method ?? unsigned.method ?? unsigned.notify_type;
  if (method !== SETTLE_NOTIFY_METHOD)
    throw new PayError(40001, { field: 'msg_method', message: `not an ${SETTLE_NOTIFY_METHOD} message` });
  assertFresh(merchant, unsigned.notify_time, context.now());
  const sentAt = Number(unsigned.utc_timestamp);
  if (Number.isFinite(sentAt) && context.now() - sentAt > MESSAGE_MAX_AGE_MS)
    throw new PayError(40002, {
      field: 'utc_timestamp',
      message: 'alipay settle notification older than its resend window: refused as a replay',
    });
  const biz = settleFields(unsigned);
  const outSplitNo = text(biz.out_request_no);
  if (!outSplitNo)
    throw new PayError(40001, {
      field: 'out_request_no',
      message: 'alipay settle notification has no out_request_no',
    });
  return {
    merchantId: merchant.merchantId,
    provider: 'alipay',
    outSplitNo,
    transactionId: text(biz.trade_no),
    splitId: text(biz.settle_no),
    lines: toLineOutcomes(biz.royalty_detail_list, 'settle notification'),
    eventId: unsigned.notify_id ?? null,
  };
}

export function alipayProfitSharingOperations(
  contextFor: (merchantId: string, account: string | undefined) => AlipayContext,
): ProfitSharingOperations {
  return {
    receiverTypes: ALIPAY_RECEIVER_TYPES,
    returnsWithRefund: true,
    addReceiver: async (request) => bindReceiver(contextFor(request.merchantId, request.account), request),
    removeReceiver: async (request) =>
      unbindReceiver(contextFor(request.merchantId, request.account), request),
    split: async (request) => splitTrade(contextFor(request.merchantId, request.account), request),
    querySplit: async (query) => querySettle(contextFor(query.merchantId, query.account), query),
    unfreeze: async (request) => unfreezeTrade(contextFor(request.merchantId, request.account), request),
    unsplitAmount: async (query) =>
      unsettledAmount(contextFor(query.merchantId, query.account), query.transactionId),
    parseSplitNotify: async (merchantId, headers, rawBody, account) =>
      parseSettleNotify(contextFor(merchantId, account), headers, rawBody),
    ackSplitNotify: (answer: NotifyAnswer): NotifyAck => ackNotify(answer),
  };
}
