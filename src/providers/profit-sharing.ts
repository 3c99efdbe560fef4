/**
 * The profit-sharing contract (分账: splitting a paid order between the merchant and receivers),
 * apart from the payment Provider: a gateway that can split exposes these operations as
 * `provider.profitSharing`. Amounts are integer fen. A receiver's real name exists in clear text only
 * in a request's arguments, never in a result.
 *
 * The order must have been created for splitting (PaymentOrder.profitSharing: WeChat
 * settle_info.profit_sharing, Alipay extend_params.royalty_freeze): its funds stay frozen until split
 * or unfrozen.
 */
import type { Fen } from '../core/money.ts';
import type { NotifyAck, NotifyAnswer } from './provider.ts';

/**
 * MERCHANT_ID: a merchant number (WeChat mchid); PERSONAL_OPENID: a WeChat user under the
 * merchant's app; ALIPAY_USER_ID (2088...) or ALIPAY_LOGON_ID (phone/email): an Alipay account.
 */
export type SplitReceiverType = 'MERCHANT_ID' | 'PERSONAL_OPENID' | 'ALIPAY_USER_ID' | 'ALIPAY_LOGON_ID';

export interface SplitReceiver {
  type: SplitReceiverType;
  account: string;
  /** The receiver's real or company name: WeChat requires it for MERCHANT_ID, checks it when given. */
  name?: string | null;
  /**
   * How the receiver relates to the merchant (WeChat relation_type: SERVICE_PROVIDER, STORE, STAFF,
   * STORE_OWNER, PARTNER, HEADQUARTER, BRAND, DISTRIBUTOR, USER, SUPPLIER, CUSTOM).
   */
  relationType?: string | null;
  /** With relationType CUSTOM. */
  customRelation?: string | null;
}

export interface ReceiverRequest {
  merchantId: string;
  account?: string;
  receiver: SplitReceiver;
}

export interface SplitLine {
  type: SplitReceiverType;
  account: string;
  amountFen: Fen;
  /** Shown to the receiver (WeChat description, Alipay desc). */
  description: string;
}

/** PENDING: being paid to the receiver; SUCCESS: paid; CLOSED: failed (the receiver's account, say). */
export type SplitLineResult = 'PENDING' | 'SUCCESS' | 'CLOSED';

export interface SplitLineOutcome extends SplitLine {
  result: SplitLineResult;
  failReason?: string | null;
  /** The gateway's id of this line (WeChat detail_id, Alipay detail_id). */
  detailId?: string | null;
  finishedAt?: Date | null;
}

export interface SplitRequest {
  merchantId: string;
  account?: string;
  /** The paid order and the gateway's number for it (WeChat transaction_id, Alipay trade_no). */
  outTradeNo: string;
  transactionId: string;
  /** Ours, unique per merchant (WeChat out_order_no, Alipay out_request_no). */
  outSplitNo: string;
  lines: SplitLine[];
  /** Unfreeze what is left to the merchant with this split (WeChat unfreeze_unsplit, Alipay royalty_finish). */
  finish: boolean;
  /** Where a gateway that takes one per request sends the split's notification (Alipay). */
  notifyUrl: string;
}

/** PROCESSING: lines are being paid; FINISHED: every line has its result. */
export type GatewaySplitStatus = 'PROCESSING' | 'FINISHED';

export interface SplitResult {
  merchantId: string;
  provider: string;
  outSplitNo: string;
  /** The gateway's number for the split (WeChat order_id, Alipay settle_no). */
  splitId: string | null;
  status: GatewaySplitStatus;
  lines: SplitLineOutcome[];
  source: 'request' | 'query' | 'notify';
}

export interface SplitQuery {
  merchantId: string;
  account?: string;
  outTradeNo: string;
  transactionId: string;
  outSplitNo: string;
}

export interface UnfreezeRequest {
  merchantId: string;
  account?: string;
  outTradeNo: string;
  transactionId: string;
  /** A split number of its own for the unfreeze (WeChat out_order_no of the unfreeze). */
  outSplitNo: string;
  description: string;
  notifyUrl: string;
}

export interface ReturnRequest {
  merchantId: string;
  account?: string;
  /** The split the money came from. */
  outSplitNo: string;
  splitId?: string | null;
  /** Ours, unique per merchant (WeChat out_return_no). */
  outReturnNo: string;
  /** The receiver that gives it back: a MERCHANT_ID receiver (WeChat return_mchid). */
  receiverAccount: string;
  amountFen: Fen;
  description: string;
}

export type ReturnStatus = 'PROCESSING' | 'SUCCESS' | 'FAILED';

export interface ReturnResult {
  merchantId: string;
  provider: string;
  outReturnNo: string;
  outSplitNo: string;
  /** The gateway's number for the return (WeChat return_id). */
  returnId: string | null;
  status: ReturnStatus;
  amountFen: Fen;
  failReason?: string | null;
  finishedAt?: Date | null;
  source: 'request' | 'query';
}

export interface ReturnQuery {
  merchantId: string;
  account?: string;
  outSplitNo: string;
  outReturnNo: string;
}

/** A verified split notification: one line's outcome (WeChat) or the whole split's (Alipay). */
export interface SplitNotification {
  merchantId: string;
  provider: string;
  outSplitNo: string;
  transactionId: string | null;
  splitId: string | null;
  /** The lines the notification reports; the split's other lines are unchanged by it. */
  lines: SplitLineOutcome[];
  /** The gateway's event id, recorded once. */
  eventId?: string | null;
}

/** A split returned as part of a refund (Alipay refund_royalty_parameters). */
export interface RefundSplitReturn {
  /** The receiver the money comes back from. */
  type: SplitReceiverType;
  account: string;
  amountFen: Fen;
}

export interface ProfitSharingOperations {
  /** Binds a receiver to the merchant (WeChat receivers/add, Alipay royalty.relation.bind). Idempotent. */
  addReceiver(request: ReceiverRequest): Promise<void>;
  /** Unbinds it (WeChat receivers/delete, Alipay royalty.relation.unbind). Idempotent. */
  removeReceiver(request: ReceiverRequest): Promise<void>;
  /**
   * Asks the gateway to split. A PayError with outcomeUnknown: the request may have arrived (query
   * with the same number settles it); a PayError with a gateway code and no outcomeUnknown: refused,
   * nothing split.
   */
  split(request: SplitRequest): Promise<SplitResult>;
  /** By our number. PayError 40005 when the gateway holds no such split. */
  querySplit(query: SplitQuery): Promise<SplitResult>;
  /** Gives what is left unsplit back to the merchant (WeChat orders/unfreeze, Alipay royalty_finish). */
  unfreeze(request: UnfreezeRequest): Promise<SplitResult>;
  /** How much of a paid order the gateway still holds frozen for splitting, fen. */
  unsplitAmount(query: { merchantId: string; account?: string; transactionId: string }): Promise<Fen>;
  /**
   * Takes a split back from a receiver (WeChat return-orders). Absent where the gateway returns
   * splits only as part of a refund (`returnsWithRefund`).
   */
  returnSplit?(request: ReturnRequest): Promise<ReturnResult>;
  queryReturn?(query: ReturnQuery): Promise<ReturnResult>;
  /**
   * true (Alipay): a refund larger than what is left unsplit carries the splits it takes back
   * (RefundRequest.splitReturns). false (WeChat): the splits must be returned first, then refunded.
   */
  readonly returnsWithRefund: boolean;
  /** Verifies a split notification (WeChat PROFITSHARING.*, Alipay alipay.trade.order.settle.notify). */
  parseSplitNotify(
    merchantId: string,
    headers: Record<string, string | string[] | undefined>,
    rawBody: Buffer,
    account?: string,
  ): Promise<SplitNotification>;
  ackSplitNotify(answer: NotifyAnswer): NotifyAck;
  /** The receiver types the gateway takes. */
  readonly receiverTypes: readonly SplitReceiverType[];
}
