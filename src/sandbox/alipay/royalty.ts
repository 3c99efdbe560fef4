/**
 * Profit sharing on the emulator (商家分账): alipay.trade.royalty.relation.bind / .unbind,
 * alipay.trade.order.settle (sync, or async with the signed alipay.trade.order.settle.notify to the
 * call's notify_url), alipay.trade.order.settle.query and alipay.trade.order.onsettle.query.
 * Receivers' accounts are set up through the control API under /sandbox/alipay/royalty (a CLOSED
 * account makes its lines FAIL); relations are kept per app in the state file, settles on their trade.
 *
 * As strict as the gateway where its rules are known: receivers must be bound by the app; the trade
 * must be paid and created with extend_params.royalty_freeze; the lines may not exceed what is still
 * frozen; one out_request_no one settle (the same request again answers the same settle_no, other
 * content is refused); after royalty_finish no settle is taken.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { fenToYuan } from '../../core/money.ts';
import type { RegisteredApp } from './apps.ts';
import { type Biz, optionalString, requiredFen, requiredString } from './biz-fields.ts';
import type { AlipayGateway } from './gateway.ts';
import { postMessage } from './messages.ts';
import type { VerifiedRequest } from './request-auth.ts';
import {
  finishLine,
  type RoyaltyLine,
  type RoyaltyReturn,
  type RoyaltySettle,
  reserveSettle,
  royaltyOf,
  unsettledFen,
} from './royalty-accounts.ts';
import { beijingTime, randomDigits, randomToken } from './runtime.ts';
import { alipayJson } from './signing.ts';
import type { MethodContext, MethodResult } from './trade-methods.ts';
import type { Trade } from './trades.ts';
import { businessFailure, invalidParameter, tradeNotExist } from './wire-errors.ts';
import { signNotifyFields } from './wire-views.ts';

export const ROYALTY_METHOD_NAMES = [
  'alipay.trade.royalty.relation.bind',
  'alipay.trade.royalty.relation.unbind',
  'alipay.trade.order.settle',
  'alipay.trade.order.settle.query',
  'alipay.trade.order.onsettle.query',
] as const;

export const SETTLE_NOTIFY_METHOD = 'alipay.trade.order.settle.notify';

export interface RoyaltyRelation {
  appId: string;
  type: string;
  account: string;
}

export interface RoyaltyReceiver {
  account: string;
  status: 'NORMAL' | 'CLOSED';
}

const USER_ID = /^2088[0-9]{12}$/;
const ACCOUNT_TYPES = new Set(['userId', 'loginName']);
/** Gateway time an async settle stays PROCESSING (100 ms at the tests' timeFactor 0.001). */
const ASYNC_SETTLE_MS = 100_000;

const ok = (fields: Record<string, unknown>): MethodResult => ({
  kind: 'json',
  response: { code: '10000', msg: 'Success', ...fields },
});

const fingerprintOf = (value: unknown): string =>
  createHash('sha256').update(JSON.stringify(value)).digest('hex');

function objectList(biz: Biz, field: string): Biz[] {
  const value = biz[field];
  if (value === undefined || value === null) throw invalidParameter(field, '不能为空');
  if (!Array.isArray(value)) throw invalidParameter(field, '应为数组');
  return value.map((entry) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
      throw invalidParameter(field, '的元素应为对象');
    return entry as Biz;
  });
}

function accountOf(entry: Biz, typeField: string, accountField: string): { type: string; account: string } {
  const type = requiredString(entry, typeField, 32);
  if (!ACCOUNT_TYPES.has(type)) throw invalidParameter(typeField, '应为userId或loginName');
  const account = requiredString(entry, accountField, 100);
  if (type === 'userId' && !USER_ID.test(account))
    throw invalidParameter(accountField, '应为2088开头的16位支付宝用户号');
  return { type, account };
}

export class RoyaltyBook {
  /** `${appId}|${type}|${account}` -> the relation. */
  readonly relations = new Map<string, RoyaltyRelation>();
  readonly receivers = new Map<string, RoyaltyReceiver>();
  /** Relation requests by `${appId}|${method}|${out_request_no}`: their content's fingerprint. */
  private readonly relationRequests = new Map<string, string>();

  constructor(private readonly gateway: AlipayGateway) {}

  registerReceiver(input: Record<string, unknown>): RoyaltyReceiver {
    if (typeof input.account !== 'string' || input.account === '') throw new Error('account is required');
    const status = input.status ?? 'NORMAL';
    if (status !== 'NORMAL' && status !== 'CLOSED') throw new Error('status must be NORMAL or CLOSED');
    const receiver: RoyaltyReceiver = { account: input.account, status };
    this.receivers.set(input.account, receiver);
    return receiver;
  }

  bound(appId: string, type: string, account: string): boolean {
    return this.relations.has(`${appId}|${type}|${account}`);
  }

  /** Binds without a request (the state file). The name is checked at bind time, never kept. */
  addRelation(relation: RoyaltyRelation): void {
    const { appId, type, account } = relation;
    this.relations.set(`${appId}|${type}|${account}`, { appId, type, account });
  }

  changeRelation(request: VerifiedRequest, bind: boolean): MethodResult {
    const { biz, app, method } = request;
    const outRequestNo = requiredString(biz, 'out_request_no', 64);
    const entries = objectList(biz, 'receiver_list').map((entry) => {
      const { type, account } = accountOf(entry, 'type', 'account');
      const name = optionalString(entry, 'name', 128);
      optionalString(entry, 'memo', 1000);
      if (bind && type === 'loginName' && !name) throw invalidParameter('name', 'type为loginName时必填');
      return { type, account, ...(name ? { name } : {}) };
    });
    if (entries.length === 0) throw invalidParameter('receiver_list', '不能为空');
    const key = `${app.appId}|${method}|${outRequestNo}`;
    const fingerprint = fingerprintOf(entries);
    const previous = this.relationRequests.get(key);
    if (previous !== undefined) {
      if (previous !== fingerprint) throw businessFailure('ACQ.DISCORDANT_REPEAT_REQUEST', '请求信息不一致');
      return ok({ result_code: 'SUCCESS' });
    }
    for (const entry of entries) {
      const relationKey = `${app.appId}|${entry.type}|${entry.account}`;
      if (bind) this.addRelation({ appId: app.appId, type: entry.type, account: entry.account });
      else if (!this.relations.has(relationKey))
        throw businessFailure('ACQ.ROYALTY_RECEIVER_NOT_BOUND', '分账关系不存在');
    }
    if (!bind)
      for (const entry of entries) this.relations.delete(`${app.appId}|${entry.type}|${entry.account}`);
    this.relationRequests.set(key, fingerprint);
    this.gateway.changed();
    return ok({ result_code: 'SUCCESS' });
  }

  /** The settle of an app by out_request_no, whichever trade it is on. */
  findSettle(appId: string, outRequestNo: string): { trade: Trade; settle: RoyaltySettle } | undefined {
    for (const trade of this.gateway.trades.all(appId)) {
      const settle = trade.royalty?.settles.find((candidate) => candidate.outRequestNo === outRequestNo);
      if (settle) return { trade, settle };
    }
    return undefined;
  }

  settle(request: VerifiedRequest, now: number): MethodResult {
    const { biz, app, params } = request;
    const outRequestNo = requiredString(biz, 'out_request_no', 64);
    const tradeNo = requiredString(biz, 'trade_no', 64);
    const lines = objectList(biz, 'royalty_parameters').map((entry, index) => {
      const royaltyType = optionalString(entry, 'royalty_type', 32) ?? 'transfer';
      if (royaltyType !== 'transfer') throw invalidParameter('royalty_type', '模拟器仅支持transfer');
      if (entry.amount_percentage !== undefined) throw invalidParameter('amount_percentage', '模拟器不支持');
      const transOut = optionalString(entry, 'trans_out', 100);
      if (transOut !== undefined && transOut !== app.sellerId)
        throw invalidParameter('trans_out', '应为本交易的收款方');
      const { type, account } = accountOf(entry, 'trans_in_type', 'trans_in');
      const desc = optionalString(entry, 'desc', 1000);
      return {
        detailId: '',
        transInType: type,
        transIn: account,
        amountFen: requiredFen(entry, 'amount'),
        ...(desc ? { desc } : {}),
        state: 'PROCESSING',
        index,
      } as RoyaltyLine & { index: number };
    });
    const extend = biz.extend_params;
    const finishText =
      typeof extend === 'object' && extend !== null ? (extend as Biz).royalty_finish : undefined;
    if (
      finishText !== undefined &&
      finishText !== 'true' &&
      finishText !== 'false' &&
      typeof finishText !== 'boolean'
    )
      throw invalidParameter('extend_params.royalty_finish', '应为true或false');
    const finish = finishText === 'true' || finishText === true;
    const mode = optionalString(biz, 'royalty_mode', 16) ?? 'sync';
    if (mode !== 'sync' && mode !== 'async') throw invalidParameter('royalty_mode', '应为sync或async');
    // Nothing to split is only an unfreeze (分账完结).
    if (lines.length === 0 && !finish)
      throw invalidParameter('royalty_parameters', '不能为空（仅分账完结时可为空）');

    const fingerprint = fingerprintOf([
      tradeNo,
      finish,
      lines.map((line) => [line.transInType, line.transIn, line.amountFen, line.desc ?? null]),
    ]);
    const existing = this.findSettle(app.appId, outRequestNo);
    if (existing) {
      if (existing.settle.fingerprint !== fingerprint)
        throw businessFailure('ACQ.DISCORDANT_REPEAT_REQUEST', '相同结算请求流水号的请求信息不一致');
      return ok({ trade_no: existing.settle.tradeNo, settle_no: existing.settle.settleNo });
    }

    const trade = this.gateway.trades.find(app.appId, { tradeNo });
    if (trade.status === 'WAIT_BUYER_PAY') throw businessFailure('ACQ.TRADE_STATUS_ERROR', '交易未支付');
    if (trade.status === 'TRADE_CLOSED') throw businessFailure('ACQ.TRADE_HAS_CLOSE', '交易已经关闭');
    if (!trade.royaltyFreeze)
      throw businessFailure('ACQ.TRADE_SETTLE_ERROR', '交易创建时未指定royalty_freeze，不能分账');
    for (const line of lines)
      if (!this.bound(app.appId, line.transInType, line.transIn))
        throw businessFailure('ACQ.ROYALTY_RECEIVER_NOT_BOUND', `分账收入方${line.transIn}未绑定分账关系`);

    const settle: RoyaltySettle = {
      outRequestNo,
      settleNo: `2025${randomDigits(this.gateway.runtime.random, 28)}`,
      tradeNo,
      fingerprint,
      finish,
      mode,
      ...(params.notify_url ? { notifyUrl: params.notify_url } : {}),
      createdAt: now,
      lines: lines.map(({ index: _index, ...line }) => ({
        ...line,
        detailId: `2025${randomDigits(this.gateway.runtime.random, 20)}`,
      })),
      notifications: [],
    };
    reserveSettle(trade, settle);
    this.gateway.changed();
    if (mode === 'sync' || settle.lines.length === 0) this.execute(app, trade, settle, false);
    else this.gateway.scheduler.after(ASYNC_SETTLE_MS, () => this.execute(app, trade, settle, true));
    return ok({ trade_no: tradeNo, settle_no: settle.settleNo });
  }

  /** Pays each line, or fails it for a closed receiver account; an async settle is then notified. */
  private execute(app: RegisteredApp, trade: Trade, settle: RoyaltySettle, notify: boolean): void {
    const at = this.gateway.runtime.clock.now();
    for (const line of settle.lines) {
      if (line.state !== 'PROCESSING') continue;
      const closed = this.receivers.get(line.transIn)?.status === 'CLOSED';
      finishLine(
        trade,
        line,
        closed ? { at, errorCode: 'RECEIVE_ACCOUNT_STATUS_ERROR', errorDesc: '收入方账户状态异常' } : { at },
      );
    }
    this.gateway.changed();
    if (notify) this.notify(app, trade, settle);
  }

  query(request: VerifiedRequest): MethodResult {
    const { biz, app } = request;
    const settleNo = optionalString(biz, 'settle_no', 64);
    const outRequestNo = optionalString(biz, 'out_request_no', 64);
    const tradeNo = optionalString(biz, 'trade_no', 64);
    if (!settleNo && !(outRequestNo && tradeNo))
      throw invalidParameter('settle_no', '和(out_request_no, trade_no)不能同时为空');
    let found: { trade: Trade; settle: RoyaltySettle } | undefined;
    if (settleNo) {
      for (const trade of this.gateway.trades.all(app.appId)) {
        const settle = trade.royalty?.settles.find((candidate) => candidate.settleNo === settleNo);
        if (settle) found = { trade, settle };
      }
    } else {
      found = this.findSettle(app.appId, outRequestNo!);
      if (found && found.settle.tradeNo !== tradeNo) found = undefined;
    }
    if (!found) throw tradeNotExist();
    return ok(settleView(app, found.settle));
  }

  unsettled(request: VerifiedRequest): MethodResult {
    const tradeNo = requiredString(request.biz, 'trade_no', 64);
    const trade = this.gateway.trades.find(request.app.appId, { tradeNo });
    return ok({ unsettled_amount: fenToYuan(unsettledFen(trade)) });
  }

  /** alipay.trade.order.settle.notify: a signed message to the settle's notify_url. */
  private notify(app: RegisteredApp, trade: Trade, settle: RoyaltySettle): void {
    if (!settle.notifyUrl) return;
    const dropped = this.gateway.faults.take('notify', {
      appId: app.appId,
      outTradeNo: settle.outRequestNo,
    })?.spec.kind;
    if (dropped === 'drop') return;
    const fields = signNotifyFields(
      {
        notify_id: randomToken(this.gateway.runtime.random, 32),
        utc_timestamp: String(this.gateway.runtime.clock.wall.now()),
        msg_method: SETTLE_NOTIFY_METHOD,
        app_id: app.appId,
        version: '1.1',
        charset: 'utf-8',
        sign_type: 'RSA2',
        biz_content: alipayJson({
          ...settleView(app, settle),
          trade_no: trade.tradeNo,
          settle_no: settle.settleNo,
        }),
      },
      app,
    );
    postMessage(this.gateway, settle.notifyUrl, fields, settle.notifications);
  }
}

/** A settle as settle.query and the notification show it. */
function settleView(app: RegisteredApp, settle: RoyaltySettle): Record<string, unknown> {
  return {
    out_request_no: settle.outRequestNo,
    operation_dt: beijingTime(settle.createdAt),
    royalty_detail_list: settle.lines.map((line) => ({
      operation_type: 'transfer',
      ...(line.executeAt !== undefined ? { execute_dt: beijingTime(line.executeAt) } : {}),
      trans_out: app.sellerId,
      trans_out_type: 'userId',
      trans_in: line.transIn,
      trans_in_type: line.transInType,
      amount: fenToYuan(line.amountFen),
      state: line.state,
      detail_id: line.detailId,
      ...(line.errorCode !== undefined ? { error_code: line.errorCode } : {}),
      ...(line.errorDesc !== undefined ? { error_desc: line.errorDesc } : {}),
    })),
  };
}

/** refund_royalty_parameters of alipay.trade.refund: the splits the refund takes back. */
export function refundRoyaltyReturns(biz: Biz): RoyaltyReturn[] {
  if (biz.refund_royalty_parameters === undefined || biz.refund_royalty_parameters === null) return [];
  return objectList(biz, 'refund_royalty_parameters').map((entry) => {
    const royaltyType = optionalString(entry, 'royalty_type', 32) ?? 'transfer';
    if (royaltyType !== 'transfer') throw invalidParameter('royalty_type', '模拟器仅支持transfer');
    const { type, account } = accountOf(entry, 'trans_out_type', 'trans_out');
    return { transOutType: type, transOut: account, amountFen: requiredFen(entry, 'amount') };
  });
}

const books = new WeakMap<AlipayGateway, RoyaltyBook>();

export function royaltyBookOf(gateway: AlipayGateway): RoyaltyBook {
  let book = books.get(gateway);
  if (!book) {
    book = new RoyaltyBook(gateway);
    books.set(gateway, book);
  }
  return book;
}

/** The royalty methods bound to one gateway, in the shape of TRADE_METHODS. */
export function royaltyMethodsOf(
  gateway: AlipayGateway,
): Record<string, (request: VerifiedRequest, context: MethodContext) => MethodResult> {
  const book = royaltyBookOf(gateway);
  return {
    'alipay.trade.royalty.relation.bind': (request) => book.changeRelation(request, true),
    'alipay.trade.royalty.relation.unbind': (request) => book.changeRelation(request, false),
    'alipay.trade.order.settle': (request, context) => book.settle(request, context.now),
    'alipay.trade.order.settle.query': (request) => book.query(request),
    'alipay.trade.order.onsettle.query': (request) => book.unsettled(request),
  };
}

type Params = Record<string, string>;

/** The receivers' side, mounted at /sandbox/alipay/royalty: not Alipay's protocol, unauthenticated. */
export async function royaltyControlRoutes(
  scope: FastifyInstance,
  options: { gateway: AlipayGateway },
): Promise<void> {
  const book = royaltyBookOf(options.gateway);
  scope.post('/receivers', async (request, reply) => {
    try {
      return book.registerReceiver((request.body ?? {}) as Record<string, unknown>);
    } catch (error) {
      return reply.code(400).send({ error: (error as Error).message });
    }
  });
  scope.get('/:appId/relations', async (request: FastifyRequest) => {
    const { appId } = request.params as Params;
    return [...book.relations.values()]
      .filter((relation) => relation.appId === appId)
      .map(({ type, account }) => ({ type, account }));
  });
  scope.get('/:appId/settles/:outRequestNo', async (request: FastifyRequest, reply) => {
    const params = request.params as Params;
    const app = options.gateway.apps.find(params.appId!);
    const found = app ? book.findSettle(app.appId, params.outRequestNo!) : undefined;
    if (!app || !found) return reply.code(404).send({ error: 'no such settle' });
    const account = royaltyOf(found.trade);
    return {
      ...settleView(app, found.settle),
      trade_no: found.trade.tradeNo,
      settle_no: found.settle.settleNo,
      finish: found.settle.finish,
      unsettled_fen: account.frozenFen,
      released_fen: account.releasedFen,
      notifications: found.settle.notifications,
    };
  });
}
