/** Douyin's wire shapes, as the gateway names them; mapped to ours in operations/results.ts. */

/** General trade system: order_query data. */
export interface TradeOrderWire {
  order_id?: string;
  out_order_no?: string;
  /** SUCCESS, PROCESS, FAIL, TIMEOUT. */
  pay_status?: string;
  /** "yyyy-MM-dd HH:mm:ss", China time. */
  pay_time?: string;
  pay_channel?: number;
  channel_pay_id?: string;
  total_amount?: number;
  discount_amount?: number;
  merchant_uid?: string;
  cp_extra?: string;
}

/** General trade system: the msg of a payment callback. */
export interface TradePaymentMsg {
  app_id?: string;
  /** SUCCESS or CANCEL. */
  status?: string;
  order_id?: string;
  out_order_no?: string;
  total_amount?: number;
  discount_amount?: number;
  pay_channel?: number;
  channel_pay_id?: string;
  merchant_uid?: string;
  /** Milliseconds since the epoch. */
  event_time?: number;
  message?: string;
  cp_extra?: string;
}

/** General trade system: refund_query's refund and the msg of a refund callback. */
export interface TradeRefundWire {
  app_id?: string;
  refund_id?: string;
  out_refund_no?: string;
  order_id?: string;
  refund_total_amount?: number;
  /** PROCESSING, SUCCESS, FAIL. */
  refund_status?: string;
  /** In callbacks the same is called status. */
  status?: string;
  /** Seconds (query) or milliseconds (callback event_time). */
  refund_at?: number;
  event_time?: number;
  message?: string;
}

/** Legacy guaranteed payment: query_order's payment_info. */
export interface EcpayPaymentInfo {
  total_fee?: number;
  /** SUCCESS, PROCESSING, FAIL, TIMEOUT. */
  order_status?: string;
  pay_time?: string;
  way?: string;
  channel_no?: string;
  seller_uid?: string;
}

/** Legacy guaranteed payment: the msg of a payment callback. */
export interface EcpayPaymentMsg {
  appid?: string;
  cp_orderno?: string;
  order_id?: string;
  payment_order_no?: string;
  total_amount?: number;
  status?: string;
  /** Seconds since the epoch. */
  paid_at?: number;
  way?: string;
  seller_uid?: string;
}

/** Legacy guaranteed payment: the msg of a refund callback. */
export interface EcpayRefundMsg {
  appid?: string;
  cp_refundno?: string;
  refund_no?: string;
  refund_amount?: number;
  /** SUCCESS or FAIL. */
  status?: string;
  refunded_at?: number;
}
