/** WeChat Pay APIv3 request and response bodies, in wire names (A.6 of the protocol reference). */

export interface AmountWire {
  total: number;
  currency?: string;
  payer_total?: number;
  payer_currency?: string;
}

export interface PrepayRequestWire {
  appid: string;
  mchid: string;
  description: string;
  out_trade_no: string;
  notify_url: string;
  amount: { total: number; currency: 'CNY' };
  time_expire?: string;
  payer?: { openid: string };
  scene_info?: {
    payer_client_ip?: string;
    device_id?: string;
    h5_info?: { type: string; app_name?: string; app_url?: string };
    [field: string]: unknown;
  };
  [field: string]: unknown;
}

/** The codepay body: the buyer's code instead of an openid, the store instead of a notify_url. */
/** The codepay body; in partner mode sp_appid/sp_mchid/sub_mchid (and sub_appid) replace appid/mchid. */
export interface CodepayRequestWire {
  appid?: string;
  mchid?: string;
  sp_appid?: string;
  sp_mchid?: string;
  sub_appid?: string;
  sub_mchid?: string;
  description: string;
  out_trade_no: string;
  payer: { auth_code: string };
  amount: { total: number; currency: 'CNY' };
  scene_info: {
    device_ip?: string;
    store_info: { out_id: string; [field: string]: unknown };
    [field: string]: unknown;
  };
  [field: string]: unknown;
}

export interface PrepayResponseWire {
  prepay_id?: string;
  h5_url?: string;
  code_url?: string;
}

export type TradeState =
  | 'SUCCESS'
  | 'REFUND'
  | 'NOTPAY'
  | 'CLOSED'
  | 'REVOKED'
  | 'USERPAYING'
  | 'PAYERROR'
  | 'ACCEPT';

export interface TransactionWire {
  appid?: string;
  mchid?: string;
  /** Partner mode names the service provider and the sub-merchant instead of appid/mchid. */
  sp_appid?: string;
  sp_mchid?: string;
  sub_appid?: string;
  sub_mchid?: string;
  out_trade_no?: string;
  transaction_id?: string;
  trade_type?: string;
  trade_state?: TradeState | string;
  trade_state_desc?: string;
  bank_type?: string;
  attach?: string;
  success_time?: string;
  payer?: { openid?: string; sp_openid?: string; sub_openid?: string };
  amount?: AmountWire;
  [field: string]: unknown;
}

export interface RefundRequestWire {
  out_trade_no: string;
  out_refund_no: string;
  reason?: string;
  notify_url: string;
  amount: { refund: number; total: number; currency: 'CNY' };
  [field: string]: unknown;
}

export type RefundStatusWire = 'SUCCESS' | 'CLOSED' | 'PROCESSING' | 'ABNORMAL';

/** The Refund object of the refund and refund-query APIs, and the refund notification resource. */
export interface RefundWire {
  mchid?: string;
  /** Partner-mode refund notifications. */
  sp_mchid?: string;
  sub_mchid?: string;
  refund_id?: string;
  out_refund_no?: string;
  transaction_id?: string;
  out_trade_no?: string;
  channel?: string;
  user_received_account?: string;
  success_time?: string;
  create_time?: string;
  /** The API's name for the state... */
  status?: RefundStatusWire | string;
  /** ...and the notification's. */
  refund_status?: RefundStatusWire | string;
  amount?: {
    total?: number;
    refund?: number;
    payer_total?: number;
    payer_refund?: number;
    currency?: string;
  };
  [field: string]: unknown;
}

export interface NotificationWire {
  id?: string;
  create_time?: string;
  event_type?: string;
  resource_type?: string;
  summary?: string;
  resource?: {
    original_type?: string;
    algorithm?: string;
    ciphertext?: string;
    associated_data?: string;
    nonce?: string;
  };
}
