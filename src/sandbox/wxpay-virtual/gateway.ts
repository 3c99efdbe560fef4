/**
 * The state of the mini program virtual payment emulator: registered mini programs with their own
 * secrets, buyers' sessions, orders (payments and refunds, as WeChat keeps both), access tokens,
 * faults to inject, and the message pushes it sends. As strict as WeChat: every signature, the
 * token's life, prices, the env, and refund limits are checked.
 */
import { randomBytes } from 'node:crypto';
import { type PushMode, type PushRecord, PushSender } from './pusher.ts';
import { hexEquals, hmacSha256Hex, newEncodingAesKey } from './wire-crypto.ts';

export type Env = 0 | 1;

export interface MiniProgram {
  appId: string;
  appSecret: string;
  originalId: string;
  offerId: string;
  /** AppKey by env: 0 production, 1 sandbox. */
  appKeys: Record<Env, string>;
  pushToken: string;
  encodingAesKey: string;
  pushUrl: string | null;
  pushMode: PushMode;
  /** Products (道具) and their unit price in fen; empty: any product at the given price. */
  products: Map<string, number>;
  coinPriceFen: number | null;
  /** openid -> the session_key issued at its last login. */
  sessions: Map<string, string>;
}

export interface XpayOrderRecord {
  appId: string;
  order_id: string;
  /** 0 payment, 1 refund. */
  order_type: 0 | 1;
  status: number;
  env: Env;
  openid: string;
  order_fee: number;
  coupon_fee: number;
  paid_fee: number;
  refund_fee: number;
  left_fee: number;
  paid_time: number;
  provide_time: number;
  create_time: number;
  update_time: number;
  wx_order_id: string;
  wxpay_order_id: string;
  channel_order_id: string;
  biz_meta: string;
  /** Payment: what was bought. Refund: the payment it returns. */
  mode?: string;
  product_id?: string;
  quantity?: number;
  unit_price?: number;
  attach?: string;
  pay_order_id?: string;
}

export class VirtualPayError extends Error {
  constructor(
    readonly errcode: number,
    readonly errmsg: string,
  ) {
    super(errmsg);
  }
}

export interface Fault {
  appId: string | null;
  /** query_order, refund_order, stable_token, refund_result (the refund fails at WeChat). */
  api: string;
  errcode: number;
  times: number;
}

export interface GatewayOptions {
  /** Scales push retry delays and refund processing: 0.001 in tests. */
  timeFactor?: number;
  now?: () => number;
}

const TOKEN_LIFE_S = 7200;
const VIRTUAL_TRADE_NO = /^(?!_)[0-9A-Za-z_\-|*@]{8,32}$/;
const REFUND_NO = /^[0-9A-Za-z_-]{8,32}$/;

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const digits = (count: number) => Array.from(randomBytes(count), (b) => String(b % 10)).join('');

export class WxVirtualGateway {
  readonly apps = new Map<string, MiniProgram>();
  readonly orders = new Map<string, XpayOrderRecord>();
  private readonly tokens = new Map<string, { appId: string; expiresAt: number }>();
  private readonly currentToken = new Map<string, string>();
  private faults: Fault[] = [];
  readonly pushes: PushSender;
  readonly timeFactor: number;
  readonly now: () => number;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(options: GatewayOptions = {}) {
    this.timeFactor = options.timeFactor ?? 1;
    this.now = options.now ?? Date.now;
    this.pushes = new PushSender(this.timeFactor, this.now);
  }

  register(input: {
    pushUrl?: string | null;
    pushMode?: PushMode;
    products?: Record<string, number>;
    coinPriceFen?: number | null;
    /** Secrets a developer kept from an earlier registration (a restart): the same mini program. */
    kept?: Pick<
      MiniProgram,
      'appId' | 'appSecret' | 'originalId' | 'offerId' | 'appKeys' | 'pushToken' | 'encodingAesKey'
    >;
  }): MiniProgram {
    const products = new Map<string, number>();
    for (const [id, price] of Object.entries(input.products ?? {})) {
      if (!Number.isSafeInteger(price) || price <= 0)
        throw new VirtualPayError(268490002, `product ${id}: bad price`);
      products.set(id, price);
    }
    if (input.kept && this.apps.has(input.kept.appId))
      throw new VirtualPayError(268490002, `app ${input.kept.appId} exists`);
    const app: MiniProgram = {
      appId: `wx${hex(8)}`,
      appSecret: hex(16),
      originalId: `gh_${hex(6)}`,
      offerId: digits(10),
      appKeys: { 0: randomBytes(24).toString('base64url'), 1: randomBytes(24).toString('base64url') },
      pushToken: randomBytes(12).toString('hex'),
      encodingAesKey: newEncodingAesKey(),
      pushUrl: input.pushUrl ?? null,
      pushMode: input.pushMode === 'aes' ? 'aes' : 'plain',
      products,
      coinPriceFen: input.coinPriceFen ?? null,
      sessions: new Map(),
      ...input.kept,
    };
    this.apps.set(app.appId, app);
    return app;
  }

  app(appId: string): MiniProgram {
    const app = this.apps.get(appId);
    if (!app) throw new VirtualPayError(40013, 'invalid appid');
    return app;
  }

  /** wx.login + code2Session: a buyer's openid and a new session_key (the old one stops working). */
  login(appId: string, openid?: string): { openid: string; session_key: string } {
    const app = this.app(appId);
    const id = openid ?? `o${randomBytes(21).toString('base64url')}`;
    const sessionKey = randomBytes(16).toString('base64');
    app.sessions.set(id, sessionKey);
    return { openid: id, session_key: sessionKey };
  }

  addFault(fault: Fault): void {
    this.faults.push(fault);
  }

  /** The errcode an injected fault answers this call with, once per time it was asked for. */
  takeFault(appId: string, api: string): number | null {
    const fault = this.faults.find((f) => f.api === api && (f.appId === null || f.appId === appId));
    if (!fault) return null;
    fault.times -= 1;
    if (fault.times <= 0) this.faults = this.faults.filter((f) => f !== fault);
    return fault.errcode;
  }

  /** /cgi-bin/stable_token: the app's current token while it lives, a new one when forced. */
  stableToken(appId: unknown, secret: unknown, force: boolean): { access_token: string; expires_in: number } {
    const app = typeof appId === 'string' ? this.apps.get(appId) : undefined;
    if (!app) throw new VirtualPayError(40013, 'invalid appid');
    if (secret !== app.appSecret) throw new VirtualPayError(40125, 'invalid appsecret');
    const fault = this.takeFault(app.appId, 'stable_token');
    if (fault !== null) throw new VirtualPayError(fault, 'injected fault');
    const current = this.currentToken.get(app.appId);
    const entry = current ? this.tokens.get(current) : undefined;
    if (!force && current && entry && entry.expiresAt > this.now())
      return { access_token: current, expires_in: Math.round((entry.expiresAt - this.now()) / 1000) };
    const token = randomBytes(48).toString('base64url');
    this.tokens.set(token, { appId: app.appId, expiresAt: this.now() + TOKEN_LIFE_S * 1000 });
    this.currentToken.set(app.appId, token);
    return { access_token: token, expires_in: TOKEN_LIFE_S };
  }

  /** Makes every token of the app expire now, as if two hours had passed. */
  expireTokens(appId: string): void {
    for (const entry of this.tokens.values()) if (entry.appId === appId) entry.expiresAt = this.now() - 1;
  }

  /** The app a server call's token belongs to; 40001 unknown, 42001 expired. */
  appOfToken(token: unknown): MiniProgram {
    const entry = typeof token === 'string' ? this.tokens.get(token) : undefined;
    if (!entry) throw new VirtualPayError(40001, 'invalid credential, access_token is invalid or not latest');
    if (entry.expiresAt <= this.now()) throw new VirtualPayError(42001, 'access_token expired');
    return this.app(entry.appId);
  }

  /** Checks a server call's pay_sig with the AppKey of the env its body names. */
  checkPaySig(app: MiniProgram, uri: string, rawBody: string, paySig: unknown, env: unknown): Env {
    if (env !== 0 && env !== 1) throw new VirtualPayError(268490002, 'env must be 0 or 1');
    if (!hexEquals(hmacSha256Hex(app.appKeys[env], `${uri}&${rawBody}`), paySig))
      throw new VirtualPayError(268490003, 'pay_sig error');
    return env;
  }

  /**
   * The buyer confirms wx.requestVirtualPayment in the mini program: signData, paySig and signature
   * verified, the price checked, the order paid, and its delivery pushed.
   */
  confirmPayment(
    appId: string,
    input: { openid?: unknown; mode?: unknown; signData?: unknown; paySig?: unknown; signature?: unknown },
  ): XpayOrderRecord {
    const app = this.app(appId);
    const fail = (message: string) => new VirtualPayError(-2, `requestVirtualPayment:fail ${message}`);
    if (typeof input.signData !== 'string') throw fail('signData must be a string');
    let data: Record<string, unknown>;
    try {
      data = JSON.parse(input.signData) as Record<string, unknown>;
    } catch {
      throw fail('signData is not JSON');
    }
    const env = data.env;
    if (env !== 0 && env !== 1) throw fail('env must be 0 or 1');
    if (!hexEquals(hmacSha256Hex(app.appKeys[env], `requestVirtualPayment&${input.signData}`), input.paySig))
      throw fail('paySig error');
    const openid = typeof input.openid === 'string' ? input.openid : '';
    const sessionKey = app.sessions.get(openid);
    if (!sessionKey) throw fail('the user is not logged in');
    if (!hexEquals(hmacSha256Hex(sessionKey, input.signData), input.signature)) throw fail('signature error');
    if (data.offerId !== app.offerId) throw fail('offerId is not this mini program');
    if (data.currencyType !== 'CNY') throw fail('currencyType must be CNY');
    const outTradeNo = data.outTradeNo;
    if (typeof outTradeNo !== 'string' || !VIRTUAL_TRADE_NO.test(outTradeNo))
      throw fail('outTradeNo is invalid');
    if (this.orders.has(this.key(appId, outTradeNo))) throw fail('outTradeNo has been used');
    const quantity = data.buyQuantity;
    if (!Number.isSafeInteger(quantity) || (quantity as number) < 1) throw fail('buyQuantity is invalid');
    const mode = input.mode;
    let unitPrice: number;
    let productId: string | undefined;
    if (mode === 'short_series_goods') {
      if (typeof data.productId !== 'string') throw fail('productId is required');
      productId = data.productId;
      const price = data.goodsPrice;
      if (!Number.isSafeInteger(price) || (price as number) <= 0) throw fail('goodsPrice is invalid');
      const listed = app.products.get(productId);
      if (app.products.size > 0 && listed === undefined) throw fail('the product is not published');
      if (listed !== undefined && listed !== price) throw fail('goodsPrice is not the product price');
      unitPrice = price as number;
    } else if (mode === 'short_series_coin') {
      if (app.coinPriceFen === null) throw fail('no coin is published');
      unitPrice = app.coinPriceFen;
    } else {
      throw fail('mode is invalid');
    }
    const fee = unitPrice * (quantity as number);
    const now = Math.floor(this.now() / 1000);
    const order: XpayOrderRecord = {
      appId,
      order_id: outTradeNo,
      order_type: 0,
      status: 2,
      env,
      openid,
      order_fee: fee,
      coupon_fee: 0,
      paid_fee: fee,
      refund_fee: 0,
      left_fee: fee,
      paid_time: now,
      provide_time: 0,
      create_time: now,
      update_time: now,
      wx_order_id: `wxvp${digits(24)}`,
      wxpay_order_id: `42000${digits(23)}`,
      channel_order_id: `mch${digits(20)}`,
      biz_meta: '',
      mode,
      ...(productId ? { product_id: productId } : {}),
      quantity: quantity as number,
      unit_price: unitPrice,
      attach: typeof data.attach === 'string' ? data.attach : '',
    };
    this.orders.set(this.key(appId, outTradeNo), order);
    this.pushDelivery(app, order);
    return order;
  }

  private pushDelivery(app: MiniProgram, order: XpayOrderRecord): PushRecord {
    const payInfo = {
      MchOrderNo: order.channel_order_id,
      TransactionId: order.wxpay_order_id,
      PaidTime: order.paid_time,
    };
    const common = {
      ToUserName: app.originalId,
      FromUserName: 'oWeChatXpayOfficial000000000',
      CreateTime: Math.floor(this.now() / 1000),
      MsgType: 'event',
      OpenId: order.openid,
      OutTradeNo: order.order_id,
      Env: order.env,
      WeChatPayInfo: payInfo,
    };
    const message =
      order.mode === 'short_series_coin'
        ? {
            ...common,
            Event: 'xpay_coin_pay_notify',
            CoinInfo: {
              Quantity: order.quantity,
              OrigPrice: order.order_fee,
              ActualPrice: order.paid_fee,
              Attach: order.attach,
            },
          }
        : {
            ...common,
            Event: 'xpay_goods_deliver_notify',
            GoodsInfo: {
              ProductId: order.product_id,
              Quantity: order.quantity,
              OrigPrice: order.unit_price,
              ActualPrice: order.paid_fee,
              Attach: order.attach,
            },
          };
    return this.pushes.send(app, message, () => {
      // Delivered: WeChat marks the order as delivered once the push is taken.
      if (order.status === 2 || order.status === 3) {
        order.status = 4;
        order.provide_time = Math.floor(this.now() / 1000);
      }
    });
  }

  queryOrder(app: MiniProgram, env: Env, body: Record<string, unknown>): XpayOrderRecord {
    const fault = this.takeFault(app.appId, 'query_order');
    if (fault !== null) throw new VirtualPayError(fault, 'injected fault');
    const order = this.find(app, body);
    if (!order || order.env !== env) throw new VirtualPayError(268500004, 'order not exist');
    if (typeof body.openid === 'string' && body.openid !== '' && body.openid !== order.openid)
      throw new VirtualPayError(268490001, 'openid error');
    return order;
  }

  notifyProvideGoods(app: MiniProgram, env: Env, body: Record<string, unknown>): void {
    const order = this.queryOrder(app, env, body);
    if (order.order_type !== 0) throw new VirtualPayError(268490002, 'not a payment order');
    if (order.status === 2 || order.status === 3) {
      order.status = 4;
      order.provide_time = Math.floor(this.now() / 1000);
    }
  }

  /** refund_order: a refund order of its own, processed later and pushed as xpay_refund_notify. */
  refundOrder(app: MiniProgram, env: Env, body: Record<string, unknown>): XpayOrderRecord {
    const fault = this.takeFault(app.appId, 'refund_order');
    if (fault !== null) throw new VirtualPayError(fault, 'injected fault');
    const refundId = body.refund_order_id;
    if (typeof refundId !== 'string' || !REFUND_NO.test(refundId))
      throw new VirtualPayError(268490002, 'refund_order_id must be 8 to 32 of letters, digits, _ and -');
    const paid = this.find(app, body);
    if (!paid || paid.env !== env || paid.order_type !== 0)
      throw new VirtualPayError(268500004, 'order not exist');
    if (body.openid !== paid.openid) throw new VirtualPayError(268490001, 'openid error');
    const existing = this.orders.get(this.key(app.appId, refundId));
    if (existing) {
      // The same refund asked again: the same answer, anything else is a reused number.
      if (
        existing.order_type === 1 &&
        existing.pay_order_id === paid.order_id &&
        existing.refund_fee === body.refund_fee
      )
        return existing;
      throw new VirtualPayError(268490002, 'refund_order_id has been used');
    }
    if (paid.status < 2 || paid.status === 6) throw new VirtualPayError(268490002, 'the order is not paid');
    if (body.left_fee !== paid.left_fee)
      throw new VirtualPayError(268490016, 'left_fee is not what is left; query_order to check');
    const fee = body.refund_fee;
    if (!Number.isSafeInteger(fee) || (fee as number) <= 0 || (fee as number) > paid.left_fee)
      throw new VirtualPayError(268490002, 'refund_fee must be within (0, left_fee]');
    if (!['0', '1', '2', '3', '4', '5'].includes(String(body.refund_reason)))
      throw new VirtualPayError(268490002, 'refund_reason is invalid');
    if (!['1', '2', '3'].includes(String(body.req_from)))
      throw new VirtualPayError(268490002, 'req_from is invalid');
    const now = Math.floor(this.now() / 1000);
    paid.left_fee -= fee as number;
    const refund: XpayOrderRecord = {
      ...paid,
      order_id: refundId,
      order_type: 1,
      status: 3,
      refund_fee: fee as number,
      left_fee: 0,
      paid_time: 0,
      create_time: now,
      update_time: now,
      wx_order_id: `wxvr${digits(24)}`,
      biz_meta: typeof body.biz_meta === 'string' ? body.biz_meta : '',
      pay_order_id: paid.order_id,
    };
    this.orders.set(this.key(app.appId, refundId), refund);
    const failure = this.takeFault(app.appId, 'refund_result');
    this.later(() => this.settleRefund(app, paid, refund, failure), 2_000);
    return refund;
  }

  private settleRefund(
    app: MiniProgram,
    paid: XpayOrderRecord,
    refund: XpayOrderRecord,
    failure: number | null,
  ): void {
    const now = Math.floor(this.now() / 1000);
    refund.update_time = now;
    if (failure === null) {
      refund.status = 5;
      refund.paid_time = now;
      if (paid.left_fee === 0) paid.status = 5;
    } else {
      refund.status = 7;
      paid.left_fee += refund.refund_fee;
    }
    paid.update_time = now;
    this.pushes.send(app, {
      ToUserName: app.originalId,
      FromUserName: 'oWeChatXpayOfficial000000000',
      CreateTime: now,
      MsgType: 'event',
      Event: 'xpay_refund_notify',
      OpenId: refund.openid,
      WxRefundId: refund.wx_order_id,
      MchRefundId: refund.order_id,
      WxOrderId: paid.wx_order_id,
      MchOrderId: paid.order_id,
      RefundFee: refund.refund_fee,
      RetCode: failure === null ? 0 : failure,
      RetMsg: failure === null ? 'success' : 'refund failed',
      RefundStartTimestamp: refund.create_time,
      RefundSuccTimestamp: failure === null ? now : 0,
      WxpayRefundTransactionId: failure === null ? `50300${digits(23)}` : '',
      RetryTimes: 0,
      Env: refund.env,
    });
  }

  /** The wire view of an order, as query_order answers it. */
  view(order: XpayOrderRecord): Record<string, unknown> {
    const {
      appId: _app,
      mode: _mode,
      product_id: _p,
      quantity: _q,
      unit_price: _u,
      attach: _a,
      pay_order_id: _po,
      openid: _o,
      env,
      ...wire
    } = order;
    return { ...wire, env_type: env === 0 ? 1 : 2, biz_type: 0, token: '' };
  }

  private find(app: MiniProgram, body: Record<string, unknown>): XpayOrderRecord | undefined {
    if (typeof body.order_id === 'string' && body.order_id !== '')
      return this.orders.get(this.key(app.appId, body.order_id));
    if (typeof body.wx_order_id === 'string' && body.wx_order_id !== '')
      for (const order of this.orders.values())
        if (order.appId === app.appId && order.wx_order_id === body.wx_order_id) return order;
    return undefined;
  }

  private key(appId: string, orderId: string): string {
    return `${appId}/${orderId}`;
  }

  private later(work: () => void, ms: number): void {
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        work();
      },
      Math.max(1, Math.round(ms * this.timeFactor)),
    );
    this.timers.add(timer);
  }

  stop(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.pushes.stop();
  }
}
