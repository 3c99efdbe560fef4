/**
 * The Douyin platform's behaviour: apps and their keys, orders from tt.requestOrder (trade) or
 * create_order (ecpay), the buyer paying, refunds within what was paid, and callbacks. Strict as
 * the platform: signatures, expiry, amounts, refund limits. Answers here are plain values or a
 * DouyinFailure; api-routes.ts and control-routes.ts put them on the wire.
 */
import { createPublicKey, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { GatewayClock, type SandboxClock } from '../shared/clock.ts';
import { GatewayScheduler } from '../shared/scheduler.ts';
import { Notifier } from './notifier.ts';
import type { DouyinApi, DouyinApp, DouyinOrder, DouyinRefund } from './state.ts';

/** A refusal with the platform's err_no (business sub-codes for the trade system). */
export class DouyinFailure extends Error {
  constructor(
    readonly errNo: number,
    message: string,
    readonly httpStatus = 200,
  ) {
    super(message);
  }
}

export const ERR = {
  systemBusy: 2100004,
  invalidParams: 2100005,
  noPermission: 2100007,
  tokenInvalid: 2190002,
  tokenExpired: 2190008,
  paramError: 11001,
  signature: 11004,
  tooFrequent: 12001,
  internal: 13000,
  notFound: 20000,
  paid: 20001,
  refundOverPaid: 20002,
} as const;

export interface DouyinGatewayOptions {
  /** Gateway ms -> real ms: 0.001 makes a 15 s retry 15 ms. */
  timeFactor?: number;
  clock?: SandboxClock;
}

export interface AppRegistration {
  api?: DouyinApi;
  appId?: string;
  /** trade: the app public key (SPKI PEM) and its version. */
  appPublicKeyPem?: string;
  keyVersion?: string;
  refundMode?: 'auto' | 'manual';
}

/** How long a client_token lives. */
export const TOKEN_TTL_SECONDS = 7200;
/** How far a request's timestamp may be from the platform's clock. */
export const TIMESTAMP_WINDOW_SECONDS = 600;
/** When an auto refund settles after it was accepted, in gateway ms. */
const AUTO_REFUND_MS = 3_000;

export class DouyinGateway {
  readonly apps = new Map<string, DouyinApp>();
  readonly orders = new Map<string, DouyinOrder>();
  readonly refunds = new Map<string, DouyinRefund>();
  readonly tokens = new Map<string, { appId: string; expiresAt: number }>();
  /** Faults the control API set: the next `count` calls of `api` of an app fail with errNo. */
  readonly faults: { appId: string | null; api: string; errNo: number; httpStatus: number; count: number }[] =
    [];
  readonly clock: GatewayClock;
  readonly scheduler: GatewayScheduler;
  readonly notifier: Notifier;
  #sequence = 0;

  constructor(options: DouyinGatewayOptions = {}) {
    this.clock = new GatewayClock(options.clock);
    this.scheduler = new GatewayScheduler(options.timeFactor ?? 1);
    this.notifier = new Notifier(this.scheduler, () => this.clock.now());
  }

  stop(): void {
    this.scheduler.stop();
  }

  now(): number {
    return this.clock.now();
  }

  #id(prefix: string): string {
    this.#sequence += 1;
    return `${prefix}${Date.now().toString().slice(-10)}${String(this.#sequence).padStart(6, '0')}${randomBytes(2).toString('hex')}`;
  }

  /** Registers an app; its platform key pair (and salt, token, secret) are made here, at runtime. */
  registerApp(input: AppRegistration): DouyinApp & { keyVersion: string } {
    const api = input.api ?? 'trade';
    if (api !== 'trade' && api !== 'ecpay')
      throw new DouyinFailure(ERR.invalidParams, 'api must be trade or ecpay', 400);
    const appId = input.appId ?? `tt${randomBytes(8).toString('hex')}`;
    if (this.apps.has(appId)) throw new DouyinFailure(ERR.invalidParams, `app ${appId} exists`, 409);
    const keyVersion = input.keyVersion ?? '1';
    const appPublicKeys = new Map<string, KeyObject>();
    if (api === 'trade') {
      if (!input.appPublicKeyPem)
        throw new DouyinFailure(ERR.invalidParams, 'appPublicKeyPem is required', 400);
      try {
        appPublicKeys.set(keyVersion, createPublicKey(input.appPublicKeyPem));
      } catch {
        throw new DouyinFailure(ERR.invalidParams, 'appPublicKeyPem is not a public key', 400);
      }
    }
    const platform = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const app: DouyinApp = {
      appId,
      api,
      appSecret: randomBytes(20).toString('hex'),
      appPublicKeys,
      platformPrivateKey: platform.privateKey,
      platformPublicKeyPem: platform.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      salt: randomBytes(16).toString('hex'),
      token: randomBytes(12).toString('hex'),
      refundMode: input.refundMode ?? 'auto',
    };
    this.apps.set(appId, app);
    return { ...app, keyVersion };
  }

  app(appId: string): DouyinApp {
    const app = this.apps.get(appId);
    if (!app) throw new DouyinFailure(ERR.noPermission, `no app ${appId}`, 404);
    return app;
  }

  issueToken(clientKey: string, clientSecret: string): { token: string; expiresIn: number } {
    const app = this.apps.get(clientKey);
    if (!app || app.api !== 'trade' || app.appSecret !== clientSecret)
      throw new DouyinFailure(10003, 'client_key or client_secret is wrong');
    const token = `clt.${randomBytes(24).toString('hex')}`;
    this.tokens.set(token, { appId: app.appId, expiresAt: this.now() + TOKEN_TTL_SECONDS * 1000 });
    return { token, expiresIn: TOKEN_TTL_SECONDS };
  }

  appOfToken(token: string | undefined): DouyinApp {
    const held = token ? this.tokens.get(token) : undefined;
    if (!held) throw new DouyinFailure(ERR.tokenInvalid, 'access-token is invalid');
    if (held.expiresAt <= this.now()) throw new DouyinFailure(ERR.tokenExpired, 'access-token has expired');
    return this.app(held.appId);
  }

  /** Consumes a configured fault for this call, if one is set. */
  takeFault(appId: string, api: string): void {
    const fault = this.faults.find(
      (f) => f.count > 0 && f.api === api && (f.appId === null || f.appId === appId),
    );
    if (!fault) return;
    fault.count -= 1;
    throw new DouyinFailure(fault.errNo, 'fault injected by the control API', fault.httpStatus);
  }

  order(appId: string, outOrderNo: string): DouyinOrder {
    const order = this.orders.get(`${appId}:${outOrderNo}`);
    if (!order) throw new DouyinFailure(ERR.notFound, `order ${outOrderNo} does not exist`);
    this.#expire(order);
    return order;
  }

  orderById(appId: string, orderId: string): DouyinOrder {
    for (const order of this.orders.values())
      if (order.appId === appId && order.orderId === orderId) return this.order(appId, order.outOrderNo);
    throw new DouyinFailure(ERR.notFound, `order ${orderId} does not exist`);
  }

  #expire(order: DouyinOrder): void {
    if ((order.status === 'PROCESS' || order.status === 'FAIL') && order.expiresAt <= this.now()) {
      order.status = 'TIMEOUT';
    }
  }

  /** An order placed by the client (trade, already verified) or by create_order (ecpay). */
  placeOrder(
    app: DouyinApp,
    input: {
      outOrderNo: string;
      totalAmount: number;
      expireSeconds: number;
      notifyUrl: string;
      data: string | null;
    },
  ): DouyinOrder {
    const key = `${app.appId}:${input.outOrderNo}`;
    const existing = this.orders.get(key);
    if (existing) {
      // The same order asked for again returns the same platform order; another one under its number is refused.
      if (existing.totalAmount !== input.totalAmount || (input.data !== null && existing.data !== input.data))
        throw new DouyinFailure(
          ERR.invalidParams,
          `out_order_no ${input.outOrderNo} is used by another order`,
        );
      return this.order(app.appId, input.outOrderNo);
    }
    const order: DouyinOrder = {
      appId: app.appId,
      orderId: this.#id(app.api === 'ecpay' ? 'N' : 'motb'),
      outOrderNo: input.outOrderNo,
      totalAmount: input.totalAmount,
      status: 'PROCESS',
      expiresAt: this.now() + input.expireSeconds * 1000,
      notifyUrl: input.notifyUrl,
      orderToken: app.api === 'ecpay' ? randomBytes(24).toString('base64url') : null,
      data: input.data,
      paidAt: null,
      refunded: 0,
    };
    this.orders.set(key, order);
    return order;
  }

  /** The buyer pays at the cashier: only an unpaid order before its expiry. */
  pay(appId: string, outOrderNo: string): DouyinOrder {
    const app = this.app(appId);
    const order = this.order(appId, outOrderNo);
    if (order.status === 'SUCCESS') throw new DouyinFailure(ERR.paid, 'order is paid already', 409);
    if (order.status === 'TIMEOUT') throw new DouyinFailure(ERR.invalidParams, 'order has expired', 409);
    order.status = 'SUCCESS';
    order.paidAt = this.now();
    this.notifier.send(app, order.notifyUrl, 'payment', this.#paymentMsg(app, order, 'SUCCESS'));
    return order;
  }

  /** The buyer's payment fails (card declined): still payable until it expires. */
  fail(appId: string, outOrderNo: string): DouyinOrder {
    const order = this.order(appId, outOrderNo);
    if (order.status !== 'PROCESS' && order.status !== 'FAIL')
      throw new DouyinFailure(ERR.invalidParams, `order is ${order.status}`, 409);
    order.status = 'FAIL';
    return order;
  }

  /** The order lapses now, unpaid: a CANCEL callback (trade). */
  cancel(appId: string, outOrderNo: string): DouyinOrder {
    const app = this.app(appId);
    const order = this.order(appId, outOrderNo);
    if (order.status === 'SUCCESS') throw new DouyinFailure(ERR.paid, 'order is paid already', 409);
    order.status = 'TIMEOUT';
    if (app.api === 'trade')
      this.notifier.send(app, order.notifyUrl, 'payment', this.#paymentMsg(app, order, 'CANCEL'));
    return order;
  }

  #paymentMsg(app: DouyinApp, order: DouyinOrder, status: 'SUCCESS' | 'CANCEL'): Record<string, unknown> {
    if (app.api === 'ecpay') {
      return {
        appid: app.appId,
        cp_orderno: order.outOrderNo,
        cp_extra: '',
        way: '1',
        payment_order_no: `PCP${order.orderId}`,
        total_amount: order.totalAmount,
        status,
        seller_uid: '7000000000000000000',
        paid_at: Math.floor((order.paidAt ?? this.now()) / 1000),
        order_id: order.orderId,
      };
    }
    return {
      app_id: app.appId,
      status,
      order_id: order.orderId,
      out_order_no: order.outOrderNo,
      total_amount: order.totalAmount,
      discount_amount: 0,
      pay_channel: 1,
      channel_pay_id: status === 'SUCCESS' ? `42000${order.orderId.slice(-12)}` : '',
      merchant_uid: '7000000000000000000',
      event_time: order.paidAt ?? this.now(),
      message: status === 'SUCCESS' ? '' : 'TIME_OUT',
      cp_extra: '',
    };
  }

  /** A refund of a paid order: never more than what is left of what was paid. */
  createRefund(
    app: DouyinApp,
    input: { outOrderNo: string; outRefundNo: string; amount: number; notifyUrl: string },
  ): DouyinRefund {
    const order = this.order(app.appId, input.outOrderNo);
    const key = `${app.appId}:${input.outRefundNo}`;
    const existing = this.refunds.get(key);
    if (existing) {
      if (existing.outOrderNo !== input.outOrderNo || existing.amount !== input.amount)
        throw new DouyinFailure(
          ERR.invalidParams,
          `out_refund_no ${input.outRefundNo} is used by another refund`,
        );
      return existing;
    }
    if (order.status !== 'SUCCESS') throw new DouyinFailure(ERR.invalidParams, 'order is not paid');
    if (!Number.isSafeInteger(input.amount) || input.amount <= 0)
      throw new DouyinFailure(ERR.paramError, 'refund amount must be a positive number of fen');
    if (order.refunded + input.amount > order.totalAmount)
      throw new DouyinFailure(ERR.refundOverPaid, 'refund amount exceeds what is left of the payment');
    order.refunded += input.amount;
    const refund: DouyinRefund = {
      appId: app.appId,
      refundId: this.#id(app.api === 'ecpay' ? 'R' : 'motr'),
      outRefundNo: input.outRefundNo,
      outOrderNo: input.outOrderNo,
      amount: input.amount,
      status: 'PROCESSING',
      notifyUrl: input.notifyUrl,
      createdAt: this.now(),
      settledAt: null,
    };
    this.refunds.set(key, refund);
    if (app.refundMode === 'auto')
      this.scheduler.after(AUTO_REFUND_MS, () => {
        if (refund.status === 'PROCESSING') this.settleRefund(app.appId, refund.outRefundNo, 'SUCCESS');
      });
    return refund;
  }

  refund(appId: string, outRefundNo: string): DouyinRefund {
    const refund = this.refunds.get(`${appId}:${outRefundNo}`);
    if (!refund) throw new DouyinFailure(ERR.notFound, `refund ${outRefundNo} does not exist`);
    return refund;
  }

  /** The refund's outcome: SUCCESS, or FAIL (the amount becomes refundable again); then its callback. */
  settleRefund(appId: string, outRefundNo: string, status: 'SUCCESS' | 'FAIL'): DouyinRefund {
    const app = this.app(appId);
    const refund = this.refund(appId, outRefundNo);
    if (refund.status !== 'PROCESSING')
      throw new DouyinFailure(ERR.invalidParams, `refund is ${refund.status}`, 409);
    refund.status = status;
    refund.settledAt = this.now();
    if (status === 'FAIL') this.order(appId, refund.outOrderNo).refunded -= refund.amount;
    const msg =
      app.api === 'ecpay'
        ? {
            appid: app.appId,
            cp_refundno: refund.outRefundNo,
            cp_extra: '',
            status,
            refund_amount: refund.amount,
            refund_no: refund.refundId,
            refunded_at: Math.floor(refund.settledAt / 1000),
            message: '',
          }
        : {
            app_id: app.appId,
            status,
            order_id: this.order(appId, refund.outOrderNo).orderId,
            refund_id: refund.refundId,
            out_refund_no: refund.outRefundNo,
            refund_total_amount: refund.amount,
            event_time: refund.settledAt,
            message: status === 'SUCCESS' ? '' : 'REFUND_FAILED',
            cp_extra: '',
          };
    this.notifier.send(app, refund.notifyUrl, 'refund', msg);
    return refund;
  }
}
