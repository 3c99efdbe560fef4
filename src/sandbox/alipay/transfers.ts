/**
 * Single transfers to Alipay accounts on the emulator: alipay.fund.trans.uni.transfer
 * (TRANS_ACCOUNT_NO_PWD, DIRECT_TRANSFER), alipay.fund.trans.common.query, and the signed
 * alipay.fund.trans.order.changed message. Payees are registered through the control API under
 * /sandbox/alipay/transfers with the state of their account; orders are kept in memory only.
 *
 * As strict as the gateway where its rules are known: signatures (checked before any of this),
 * the product code and scene, payee_info with ALIPAY_USER_ID (2088 and 12 digits) or
 * ALIPAY_LOGON_ID (which needs the real name), a frozen or closed account refused with
 * PAYEE_ACCOUNT_STATUS_ERROR, a wrong name with PAYEE_USER_INFO_ERROR, and one out_biz_no one
 * order (the same request again answers the same order; different parameters are refused).
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { fenToYuan } from '../../core/money.ts';
import type { RegisteredApp } from './apps.ts';
import { type Biz, optionalString, requiredFen, requiredString } from './biz-fields.ts';
import type { AlipayGateway } from './gateway.ts';
import { type MessageAttempt, postMessage } from './messages.ts';
import type { VerifiedRequest } from './request-auth.ts';
import { beijingTime, randomDigits, randomToken } from './runtime.ts';
import { alipayJson } from './signing.ts';
import type { MethodContext, MethodResult } from './trade-methods.ts';
import { businessFailure, invalidParameter } from './wire-errors.ts';
import { signNotifyFields } from './wire-views.ts';

export const FUND_METHOD_NAMES = [
  'alipay.fund.trans.uni.transfer',
  'alipay.fund.trans.common.query',
] as const;

export interface FundPayee {
  identity: string;
  name?: string;
  status: 'NORMAL' | 'FROZEN' | 'CLOSED';
  /** DEALING: the transfer is accepted and finishes later (with a notification), as bank-side delays do. */
  settle: 'at_once' | 'later';
}

export interface FundOrder {
  appId: string;
  outBizNo: string;
  orderId: string;
  payFundOrderId: string;
  amountFen: number;
  identityType: string;
  identity: string;
  name: string | undefined;
  status: 'DEALING' | 'SUCCESS' | 'FAIL';
  notifyUrl: string | undefined;
  createdAt: number;
  payDate: number | undefined;
  fingerprint: string;
  requests: number;
  notifications: MessageAttempt[];
}

const USER_ID = /^2088[0-9]{12}$/;
/** Gateway time before a DEALING order succeeds. */
const SETTLE_MS = 100_000;

export class FundBook {
  readonly payees = new Map<string, FundPayee>();
  readonly orders = new Map<string, FundOrder>();

  constructor(private readonly gateway: AlipayGateway) {}

  registerPayee(input: Record<string, unknown>): FundPayee {
    const identity = input.identity;
    if (typeof identity !== 'string' || identity.length === 0) throw new Error('identity is required');
    const status = input.status ?? 'NORMAL';
    if (status !== 'NORMAL' && status !== 'FROZEN' && status !== 'CLOSED')
      throw new Error('status must be NORMAL, FROZEN or CLOSED');
    const settle = input.settle ?? 'at_once';
    if (settle !== 'at_once' && settle !== 'later') throw new Error('settle must be at_once or later');
    const payee: FundPayee = {
      identity,
      ...(typeof input.name === 'string' ? { name: input.name } : {}),
      status,
      settle,
    };
    this.payees.set(identity, payee);
    return payee;
  }

  get(appId: string, outBizNo: string): FundOrder | undefined {
    return this.orders.get(`${appId}:${outBizNo}`);
  }

  transfer(request: VerifiedRequest, now: number): MethodResult {
    const { biz, app, params } = request;
    const outBizNo = requiredString(biz, 'out_biz_no', 64);
    const amountFen = requiredFen(biz, 'trans_amount');
    if (requiredString(biz, 'product_code', 64) !== 'TRANS_ACCOUNT_NO_PWD')
      throw invalidParameter('product_code', '应为TRANS_ACCOUNT_NO_PWD');
    if (requiredString(biz, 'biz_scene', 64) !== 'DIRECT_TRANSFER')
      throw invalidParameter('biz_scene', '应为DIRECT_TRANSFER');
    requiredString(biz, 'order_title', 128);
    optionalString(biz, 'remark', 200);
    const payeeInfo = biz.payee_info;
    if (!payeeInfo || typeof payeeInfo !== 'object' || Array.isArray(payeeInfo))
      throw invalidParameter('payee_info', '不能为空');
    const info = payeeInfo as Biz;
    const identity = requiredString(info, 'identity', 100);
    const identityType = requiredString(info, 'identity_type', 64);
    const name = optionalString(info, 'name', 64);
    if (identityType !== 'ALIPAY_USER_ID' && identityType !== 'ALIPAY_LOGON_ID')
      throw invalidParameter('payee_info.identity_type', '应为ALIPAY_USER_ID或ALIPAY_LOGON_ID');
    if (identityType === 'ALIPAY_USER_ID' && !USER_ID.test(identity))
      throw invalidParameter('payee_info.identity', '应为2088开头的16位支付宝会员ID');
    if (identityType === 'ALIPAY_LOGON_ID' && !name)
      throw invalidParameter('payee_info.name', 'identity_type为ALIPAY_LOGON_ID时必填');
    const fingerprint = createHash('sha256')
      .update(JSON.stringify([amountFen, identityType, identity, name ?? null]))
      .digest('hex');
    const existing = this.get(app.appId, outBizNo);
    if (existing) {
      if (existing.fingerprint !== fingerprint)
        throw businessFailure('PAYMENT_INFO_INCONSISTENCY', '两次请求商户单号一样，但是参数不一致');
      existing.requests += 1;
      return { kind: 'json', response: { code: '10000', msg: 'Success', ...transferAnswer(existing) } };
    }
    const payee = this.payees.get(identity) ?? { identity, status: 'NORMAL', settle: 'at_once' };
    if (payee.status !== 'NORMAL') throw businessFailure('PAYEE_ACCOUNT_STATUS_ERROR', '收款方账户状态异常');
    if (name !== undefined && payee.name !== undefined && payee.name !== name)
      throw businessFailure('PAYEE_USER_INFO_ERROR', '收款方姓名或其它信息不匹配');
    const order: FundOrder = {
      appId: app.appId,
      outBizNo,
      orderId: `2025${randomDigits(this.gateway.runtime.random, 28)}`,
      payFundOrderId: `2025${randomDigits(this.gateway.runtime.random, 28)}`,
      amountFen,
      identityType,
      identity,
      name,
      status: payee.settle === 'later' ? 'DEALING' : 'SUCCESS',
      notifyUrl: params.notify_url || undefined,
      createdAt: now,
      payDate: payee.settle === 'later' ? undefined : now,
      fingerprint,
      requests: 1,
      notifications: [],
    };
    this.orders.set(`${app.appId}:${outBizNo}`, order);
    if (order.status === 'DEALING')
      this.gateway.scheduler.after(SETTLE_MS, () => {
        order.status = 'SUCCESS';
        order.payDate = this.gateway.runtime.clock.now();
        this.gateway.changed();
        this.notify(app, order);
      });
    else this.gateway.scheduler.afterRealMs(0, () => this.notify(app, order));
    return { kind: 'json', response: { code: '10000', msg: 'Success', ...transferAnswer(order) } };
  }

  query(request: VerifiedRequest): MethodResult {
    const { biz, app } = request;
    const outBizNo = requiredString(biz, 'out_biz_no', 64);
    const productCode = optionalString(biz, 'product_code', 64);
    if (productCode !== undefined && productCode !== 'TRANS_ACCOUNT_NO_PWD')
      throw invalidParameter('product_code', '应为TRANS_ACCOUNT_NO_PWD');
    const order = this.get(app.appId, outBizNo);
    if (!order) throw businessFailure('ORDER_NOT_EXIST', '转账订单不存在');
    return {
      kind: 'json',
      response: {
        code: '10000',
        msg: 'Success',
        order_id: order.orderId,
        pay_fund_order_id: order.payFundOrderId,
        out_biz_no: order.outBizNo,
        trans_amount: fenToYuan(order.amountFen),
        status: order.status,
        order_fee: '0.00',
        ...(order.payDate !== undefined ? { pay_date: beijingTime(order.payDate) } : {}),
      },
    };
  }

  /** alipay.fund.trans.order.changed: a signed message, resent until it is answered `success`. */
  private notify(app: RegisteredApp, order: FundOrder): void {
    if (!order.notifyUrl) return;
    const dropped = this.gateway.faults.take('notify', {
      appId: app.appId,
      outTradeNo: order.outBizNo,
    })?.spec.kind;
    if (dropped === 'drop') return;
    const fields = signNotifyFields(
      {
        notify_id: randomToken(this.gateway.runtime.random, 32),
        utc_timestamp: String(this.gateway.runtime.clock.wall.now()),
        msg_method: 'alipay.fund.trans.order.changed',
        app_id: app.appId,
        version: '1.1',
        charset: 'utf-8',
        sign_type: 'RSA2',
        biz_content: alipayJson({
          out_biz_no: order.outBizNo,
          order_id: order.orderId,
          pay_fund_order_id: order.payFundOrderId,
          status: order.status,
          trans_amount: fenToYuan(order.amountFen),
          product_code: 'TRANS_ACCOUNT_NO_PWD',
          biz_scene: 'DIRECT_TRANSFER',
          action_type: 'FINISH',
          ...(order.payDate !== undefined ? { pay_date: beijingTime(order.payDate) } : {}),
        }),
      },
      app,
    );
    postMessage(this.gateway, order.notifyUrl, fields, order.notifications);
  }
}

function transferAnswer(order: FundOrder): Record<string, unknown> {
  return {
    out_biz_no: order.outBizNo,
    order_id: order.orderId,
    pay_fund_order_id: order.payFundOrderId,
    status: order.status,
    trans_date: beijingTime(order.createdAt),
  };
}

const books = new WeakMap<AlipayGateway, FundBook>();

export function fundBookOf(gateway: AlipayGateway): FundBook {
  let book = books.get(gateway);
  if (!book) {
    book = new FundBook(gateway);
    books.set(gateway, book);
  }
  return book;
}

/** The fund methods bound to one gateway, in the shape of TRADE_METHODS. */
export function fundMethodsOf(
  gateway: AlipayGateway,
): Record<string, (request: VerifiedRequest, context: MethodContext) => MethodResult> {
  const book = fundBookOf(gateway);
  return {
    'alipay.fund.trans.uni.transfer': (request, context) => book.transfer(request, context.now),
    'alipay.fund.trans.common.query': (request) => book.query(request),
  };
}

type Params = Record<string, string>;

/** The payees' side, mounted at /sandbox/alipay/transfers: not Alipay's protocol, unauthenticated. */
export async function fundControlRoutes(
  scope: FastifyInstance,
  options: { gateway: AlipayGateway },
): Promise<void> {
  const book = fundBookOf(options.gateway);
  scope.post('/payees', async (request, reply) => {
    try {
      return book.registerPayee((request.body ?? {}) as Record<string, unknown>);
    } catch (error) {
      return reply.code(400).send({ error: (error as Error).message });
    }
  });
  scope.get('/:appId/:outBizNo', async (request: FastifyRequest, reply) => {
    const params = request.params as Params;
    const order = book.get(params.appId!, params.outBizNo!);
    if (!order) return reply.code(404).send({ error: 'no such transfer' });
    return {
      out_biz_no: order.outBizNo,
      order_id: order.orderId,
      status: order.status,
      trans_amount: fenToYuan(order.amountFen),
      identity_type: order.identityType,
      identity: order.identity,
      name: order.name ?? null,
      requests: order.requests,
      notifications: order.notifications,
    };
  });
}
