/**
 * The transfer contract (money out to a buyer's wallet), apart from the payment Provider: a gateway
 * that can transfer exposes these operations as `provider.transfers`. Amounts are integer fen; the
 * payee's identity and name exist in clear text only in a request's arguments, never in a result.
 */
import type { Fen } from '../core/money.ts';
import type { GatewayTransferStatus } from '../core/transfer-states.ts';
import type { NotifyAck, NotifyAnswer } from './provider.ts';

/** OPENID: WeChat user under the merchant's app; ALIPAY_USER_ID (2088...) or ALIPAY_LOGON_ID (phone/email). */
export type PayeeIdentityType = 'OPENID' | 'ALIPAY_USER_ID' | 'ALIPAY_LOGON_ID';

export interface TransferPayee {
  identityType: PayeeIdentityType;
  identity: string;
  /** The payee's real name: the gateway checks it (WeChat requires it from 2,000 yuan). */
  name?: string | null;
}

export interface TransferRequest {
  merchantId: string;
  account?: string;
  outTransferNo: string;
  amountFen: Fen;
  payee: TransferPayee;
  /** Shown to the payee (WeChat transfer_remark, Alipay order_title). */
  remark: string;
  /** WeChat transfer_scene_id and its report infos; ignored by Alipay. */
  sceneId?: string | null;
  sceneReportInfos?: Array<{ infoType: string; infoContent: string }>;
  /** What the payee sees as the reason (WeChat user_recv_perception). */
  userRecvPerception?: string | null;
  notifyUrl: string;
}

export interface TransferResult {
  merchantId: string;
  provider: string;
  outTransferNo: string;
  status: GatewayTransferStatus;
  /** The gateway's number (WeChat transfer_bill_no, Alipay order_id). */
  transferId: string | null;
  /** The amount the gateway reports, checked against ours. */
  amountFen?: Fen | null;
  /** WeChat WAIT_USER_CONFIRM: what the client passes to wx.requestMerchantTransfer. */
  packageInfo?: string | null;
  failReason?: string | null;
  successTime?: Date | null;
  eventId?: string | null;
  source: 'request' | 'query' | 'notify';
}

export interface TransferQuery {
  merchantId: string;
  account?: string;
  outTransferNo: string;
}

export interface TransferOperations {
  /**
   * Asks the gateway to pay. A PayError with outcomeUnknown: the request may have arrived; a
   * PayError with a gateway code and no outcomeUnknown: the gateway refused it (nothing paid).
   */
  transfer(request: TransferRequest): Promise<TransferResult>;
  /** By our number. PayError 40005 when the gateway holds no such transfer. */
  queryTransfer(query: TransferQuery): Promise<TransferResult>;
  /** Withdraws a transfer the buyer has not confirmed yet (WeChat); absent where the gateway has none. */
  cancelTransfer?(query: TransferQuery): Promise<TransferResult>;
  /** Verifies a transfer notification (WeChat MCHTRANSFER.BILL.FINISHED, Alipay fund.trans.order.changed). */
  parseTransferNotify(
    merchantId: string,
    headers: Record<string, string | string[] | undefined>,
    rawBody: Buffer,
    account?: string,
  ): Promise<TransferResult>;
  ackTransferNotify(answer: NotifyAnswer): NotifyAck;
  /** The payee identity types the gateway takes. */
  readonly identityTypes: readonly PayeeIdentityType[];
}
