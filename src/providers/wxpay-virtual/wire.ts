/** The JSON of the /xpay/ calls this provider makes, in WeChat's names. */

/** query_order's order: a payment (order_type 0) or a refund (order_type 1). */
export interface XpayOrder {
  order_id: string;
  /** 0 initialised, 1 created, 2 paid, 3 delivering, 4 delivered, 5 refunded, 6 closed, 7 refund failed. */
  status: number;
  order_fee: number;
  coupon_fee?: number;
  paid_fee?: number;
  order_type: number;
  refund_fee?: number;
  paid_time?: number;
  provide_time?: number;
  left_fee?: number;
  wx_order_id?: string;
  channel_order_id?: string;
  wxpay_order_id?: string;
  env_type?: number;
}

export interface QueryOrderAnswer {
  errcode: number;
  errmsg?: string;
  order?: XpayOrder;
}

export interface RefundOrderAnswer {
  errcode: number;
  errmsg?: string;
  refund_order_id?: string;
  refund_wx_order_id?: string;
  pay_order_id?: string;
  pay_wx_order_id?: string;
}

export type VirtualPayMode = 'short_series_goods' | 'short_series_coin';

/** wx.requestVirtualPayment's signData, before it is serialised once and signed as that text. */
export interface SignData {
  offerId: string;
  buyQuantity: number;
  env: 0 | 1;
  currencyType: 'CNY';
  platform: string;
  productId?: string;
  goodsPrice?: number;
  outTradeNo: string;
  attach: string;
}
