/**
 * The one interface every gateway implements. Inside a provider folder, the signed transport (sign
 * the request, verify the response) stays apart from the per-operation mappings (our types <-> the
 * gateway's types). Amounts are integer fen on this side of the interface.
 */

import type { ClientPayParams } from '../core/client-params.ts';
import type { PayError } from '../core/errors.ts';
import type { Fen } from '../core/money.ts';
import type { Scene } from '../core/validate.ts';
import type { ProfitSharingOperations, RefundSplitReturn } from './profit-sharing.ts';
import type { TransferOperations } from './transfer.ts';

export type { ClientPayParams };

/** What a verified gateway callback or query says about a payment. */
export interface PaymentResult {
  merchantId: string;
  provider: string;
  outTradeNo: string;
  /** The gateway's own number for the payment (WeChat transaction_id, Alipay trade_no). */
  transactionId: string | null;
  /** What the gateway says the payer paid, in fen. */
  amountFen: Fen;
  status: 'SUCCESS' | 'NOTPAY' | 'USERPAYING' | 'CLOSED' | 'FAILED';
  /** The gateway merchant and app the payment went to; checked against the order's. */
  mchId?: string | null;
  appId?: string | null;
  /** The merchant's account whose keys verified a callback; checked against the order's. */
  account?: string;
  paidAt?: Date | null;
  /** The gateway's event id (WeChat notification id, Alipay notify_id), recorded once. */
  eventId?: string | null;
  source: 'notify' | 'query';
  /** The verified, decrypted payload, kept with the order. */
  raw: unknown;
}

export interface RefundResult {
  merchantId: string;
  provider: string;
  outRefundNo: string;
  /** A gateway reports the first four; REFUSED comes only from a request the gateway refused. */
  status: 'PROCESSING' | 'SUCCESS' | 'CLOSED' | 'ABNORMAL' | 'REFUSED';
  refundId?: string | null;
  /** The refunded amount the gateway reports, checked against the refund's. */
  refundFen?: Fen | null;
  successTime?: Date | null;
  eventId?: string | null;
  source: 'notify' | 'query' | 'request';
  /**
   * A query's word that the gateway does not hold this refund as in progress (it never received
   * it, or cannot tell that from a failure): sending it again with the same out_refund_no is safe
   * and is what settles it.
   */
  resendable?: boolean;
  raw: unknown;
}

/** What a provider needs to create a payment at the gateway. */
export interface PaymentOrder {
  merchantId: string;
  /** Which of the merchant's gateway accounts takes it; `default` when unset. */
  account?: string;
  outTradeNo: string;
  totalFen: Fen;
  subject: string;
  scene: Scene;
  /** The payer's openid: required for JSAPI and mini program. */
  openid?: string | null;
  /** The payer's IP: required for H5. */
  clientIp?: string | null;
  /** Where the gateway sends the payment notification. */
  notifyUrl: string;
  /** Where a browser returns after paying (Alipay page/H5). */
  returnUrl?: string | null;
  expireAt?: Date | null;
  /** Extra gateway fields passed through unchanged. */
  other?: Record<string, unknown>;
  /**
   * The buyer's WeChat session_key, for the user-state signature of a mini program virtual payment:
   * used for this call only, never stored or logged.
   */
  sessionKey?: string | null;
  /** The client's platform (mp-weixin, app, h5...) and user agent, where the request gave them. */
  platform?: string | null;
  userAgent?: string | null;
  /**
   * The buyer's payment code, scanned at the counter (`micropay` scene): used for this call only,
   * never stored or logged.
   */
  authCode?: string | null;
  /**
   * Keep the funds frozen for splitting after payment (WeChat settle_info.profit_sharing, Alipay
   * extend_params.royalty_freeze): see profit-sharing.ts.
   */
  profitSharing?: boolean;
}

export interface CreatedPayment {
  client: ClientPayParams;
  /** The gateway's id for the attempt (WeChat prepay_id), when it gives one. */
  prepayId?: string | null;
  /**
   * What the gateway said of the payment itself in its answer to the create call (a `micropay`:
   * SUCCESS at once, USERPAYING while the buyer confirms, FAILED when refused); applied like a
   * query's answer. Absent for scenes where the buyer pays later.
   */
  result?: PaymentResult;
  raw: unknown;
}

export interface RefundRequest {
  merchantId: string;
  /** The account that took the payment; `default` when unset. */
  account?: string;
  outTradeNo: string;
  outRefundNo: string;
  refundFen: Fen;
  totalFen: Fen;
  reason?: string | null;
  notifyUrl: string;
  /** The buyer's openid, for gateways whose refunds name the buyer (mini program virtual payment). */
  openid?: string | null;
  /**
   * The splits this refund takes back from receivers, where the gateway returns splits with the
   * refund (ProfitSharingOperations.returnsWithRefund: Alipay refund_royalty_parameters).
   */
  splitReturns?: RefundSplitReturn[];
}

/** A verified callback about a payment or refund of ours, found by our numbers. */
export type GatewayNotifyEvent =
  | { kind: 'payment'; result: PaymentResult }
  | { kind: 'refund'; result: RefundResult };

/** A verified callback: what it says, and what to answer the gateway. */
export type NotifyEvent = GatewayNotifyEvent | { kind: 'store'; result: StoreNotification };

/**
 * A purchase an app store made and signed (Apple's transaction): it names the store's product and
 * transaction, not our order; the provider maps the product to its amount and order type.
 */
export interface StorePurchase {
  transactionId: string;
  originalTransactionId: string;
  productId: string;
  amountFen: Fen;
  orderType: string;
  /** The buyer's token set at purchase (Apple's appAccountToken), tying it to our user. */
  appAccountToken: string | null;
  /** A renewal of a subscription, rather than the buyer's own purchase. */
  renewal: boolean;
  paidAt: Date;
  /** Set once the store refunded or revoked it. */
  revokedAt: Date | null;
  environment: string;
  raw: unknown;
}

/**
 * What an app store tells us of purchases it made without a request of ours: a purchase, a renewal, a refund
 * (and its reversal), a revocation, an expiry, a test. `eventId` is the notification's own id.
 */
export interface StoreNotification {
  merchantId: string;
  provider: string;
  eventId: string;
  kind: 'purchase' | 'renewal' | 'refund' | 'refund_reversed' | 'revoked' | 'expired' | 'test' | 'other';
  /** The store's words for it (Apple's notificationType and subtype). */
  notificationType: string;
  subtype: string | null;
  purchase: StorePurchase | null;
  raw: unknown;
}

export interface NotifyAck {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * How a callback is answered, by its cause. `accepted`: applied, applied before, or verified but
 * unapplicable and recorded for a person; the gateway must stop sending it. `refused`: it does not
 * verify. `unknown_merchant`: no merchant of this gateway under that id. `retry`: our own failure;
 * the gateway must send it again.
 */
export type NotifyAnswer = 'accepted' | 'refused' | 'unknown_merchant' | 'retry';

/** The status of every answer but `accepted`, the same for every gateway; the body is the gateway's. */
export const NOTIFY_FAILURE_STATUS: Record<Exclude<NotifyAnswer, 'accepted'>, number> = {
  refused: 401,
  unknown_merchant: 404,
  retry: 500,
};

/** The gateway merchant and app a payment goes to; results must come back from the same. */
export interface GatewayIdentity {
  mchId: string;
  appId: string | null;
}

export interface Provider {
  readonly name: string;
  /**
   * Which gateway merchant and app take this merchant's payments in this scene through one of its
   * accounts (`default` when unset); throws 40001 if unknown.
   */
  identity(merchantId: string, scene: Scene, account?: string): GatewayIdentity;
  createPayment(order: PaymentOrder): Promise<CreatedPayment>;
  /**
   * By our number, or by the gateway's when `transactionId` is given. `scene`, when the caller
   * knows the order's, lets a gateway whose trade states do not tell the scenes apart read them
   * right (Alipay's WAIT_BUYER_PAY of a payment-code trade is the buyer confirming: USERPAYING).
   */
  queryPayment(query: {
    merchantId: string;
    account?: string;
    outTradeNo: string;
    transactionId?: string;
    scene?: Scene;
  }): Promise<PaymentResult>;
  /**
   * Closes an unpaid payment so the gateway takes no payment for it. `absent`: the gateway has no
   * trade for it yet (an unscanned Alipay QR) and may still create one when the buyer scans.
   */
  closePayment(query: {
    merchantId: string;
    account?: string;
    outTradeNo: string;
  }): Promise<'closed' | 'absent' | void>;
  /**
   * Reverses a payment-code payment whose buyer never confirmed (WeChat's reverse, Alipay's
   * trade.cancel): the gateway closes it, or refunds it if the buyer paid meanwhile. `retry`: the
   * gateway asks for the same call again (WeChat recall=Y, Alipay retry_flag=Y). Only gateways with
   * payment codes implement it.
   */
  reversePayment?(query: {
    merchantId: string;
    account?: string;
    outTradeNo: string;
  }): Promise<'reversed' | 'retry'>;
  refund(request: RefundRequest): Promise<RefundResult>;
  /** Alipay needs the order's number beside the refund's; WeChat ignores it. */
  queryRefund(query: {
    merchantId: string;
    account?: string;
    outRefundNo: string;
    outTradeNo: string;
  }): Promise<RefundResult>;
  /**
   * Verifies (and decrypts) a callback from its raw bytes with the keys of the merchant's account
   * (`default` when unset); throws PayError 40002 when it does not verify.
   */
  parseNotify(
    merchantId: string,
    headers: Record<string, string | string[] | undefined>,
    rawBody: Buffer,
    account?: string,
    /** The callback URL's query parameters, where a gateway signs there (WeChat's message push). */
    query?: Record<string, string | undefined>,
  ): Promise<NotifyEvent>;
  /**
   * The answer in the gateway's format: `accepted` stops its resends, anything else asks for another.
   * `target` is the merchant account the callback came for, when known (its API version may set the format).
   */
  ackNotify(
    answer: NotifyAnswer,
    error?: PayError,
    target?: { merchantId: string; account: string },
  ): NotifyAck;
  /**
   * Settles an ABNORMAL refund (the buyer's card closed, say) by paying it to a bank card instead.
   * Only gateways that have such an API implement it (WeChat Pay).
   */
  applyAbnormalRefund?(request: AbnormalRefundRequest): Promise<RefundResult>;
  /** The gateway's trade bill of one China date (YYYY-MM-DD), for reconciliation; where there is one. */
  downloadTradeBill?(merchantId: string, date: string, account?: string): Promise<TradeBill>;
  /** How many days back the gateway keeps trade bills: reconciliation catches up within them. */
  readonly billWindowDays?: number;
  /** The merchants this provider is configured for. */
  merchantIds?(): string[];
  /** A merchant's configured accounts (`default` first when it has one); empty when unknown. */
  accounts?(merchantId: string): string[];
  /** Each of a merchant's accounts as configured and in force, for operators: never a secret. */
  accountFacts?(merchantId: string): GatewayAccountFacts[];
  /** Transfers to buyers' wallets, where the gateway has them (transfer.ts). */
  readonly transfers?: TransferOperations;
  /** Splitting paid orders between the merchant and receivers, where the gateway has it (profit-sharing.ts). */
  readonly profitSharing?: ProfitSharingOperations;
}

/** A public key by its SHA-256 fingerprint (of the DER SubjectPublicKeyInfo, hex). */
export interface KeyFingerprint {
  /** merchant (ours, from the private key's public half), wechatpay_public_key, alipay_public_key, app. */
  role: string;
  /** The key's id where the gateway names keys by one (PUB_KEY_ID_...). */
  id: string | null;
  sha256: string;
}

export interface CertificateFacts {
  /** merchant_api (its serial only), platform, app, alipay. */
  role: string;
  serial: string;
  /** ISO instants; null where only the serial is configured. */
  notBefore: string | null;
  notAfter: string | null;
  sha256: string | null;
}

/**
 * One gateway account of a merchant as operators see it: who it pays into, how the gateway's
 * answers are verified, the keys' fingerprints and the certificates' dates. Built from public
 * halves only: no private key, API key or token ever reaches it.
 */
export interface GatewayAccountFacts {
  provider: string;
  merchantId: string;
  account: string;
  /** WeChat Pay mchid; Alipay seller id when configured. */
  mchId: string | null;
  appId: string;
  /** Per-scene app ids besides the default one. */
  appIds: Record<string, string>;
  /** wechatpay_public_key, platform_certificates, both; alipay_certificate, alipay_public_key. */
  keyMode: string;
  keys: KeyFingerprint[];
  certificates: CertificateFacts[];
  /** The gateway's API base URL this account calls. */
  gatewayUrl: string;
  /**
   * A sub-merchant paid through a service provider (WeChat Pay partner mode): whose keys sign for
   * it. `mchId` and `appId` are then the sub-merchant's (sub_appid, or the sp_appid it pays under).
   */
  serviceProvider?: { id: string; mchId: string; appId: string };
}

/** One line of a trade bill: a payment on the day it succeeded, or a refund on the day it was accepted. */
export type BillRecord =
  | {
      kind: 'payment';
      time: string;
      transactionId: string;
      outTradeNo: string;
      totalFen: number;
      state: string;
    }
  | {
      kind: 'refund';
      time: string;
      transactionId: string;
      outTradeNo: string;
      totalFen: number;
      refundId: string;
      outRefundNo: string;
      refundFen: number;
      refundStatus: string;
    };

export interface TradeBill {
  date: string;
  records: BillRecord[];
}

export interface AbnormalRefundRequest {
  merchantId: string;
  account?: string;
  outRefundNo: string;
  /** The gateway's refund id (WeChat refund_id). */
  refundId: string;
  /** To the buyer's bank card, or to the merchant's bank account. */
  type: 'USER_BANK_CARD' | 'MERCHANT_BANK_CARD';
  /** USER_BANK_CARD: the bank (WeChat bank type, e.g. ICBC_DEBIT), the card number and the holder's name. */
  bankType?: string;
  bankAccount?: string;
  realName?: string;
}
