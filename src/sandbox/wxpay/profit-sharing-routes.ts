/**
 * 分账 endpoints of the emulator: the signed API under /v3/profitsharing (receivers add/delete,
 * orders, query, unfreeze, unsplit amounts, return-orders and their query), the same paths for a
 * service provider naming sub_mchid, and the sandbox's side under /sandbox/profitsharing (the
 * merchant platform's notify URL and max ratio, receiver accounts that fail, a look at the book).
 */
import { constants, privateDecrypt } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WxpayGateway } from './gateway.ts';
import type { Merchant } from './merchants.ts';
import { ownerMchid } from './partner-routes.ts';
import type { SplitOrder, SplitReturn } from './profit-sharing.ts';
import { formatChinaTime } from './runtime.ts';
import { installSignedTransport, type SignedRequestContext, signedOperation } from './signed-scope.ts';
import { invalidField, invalidRequest, missingField, WxpayWireError } from './wire-errors.ts';

type Json = Record<string, unknown>;
type Params = Record<string, string>;
type Query = Record<string, string | undefined>;

export function splitOrderJson(order: SplitOrder): Json {
  const finished = order.lines.every((line) => line.result !== 'PENDING');
  return {
    ...(order.spMchid ? { sub_mchid: order.mchid } : {}),
    transaction_id: order.transactionId,
    out_order_no: order.outOrderNo,
    order_id: order.orderId,
    state: finished ? 'FINISHED' : 'PROCESSING',
    receivers: order.lines.map((line) => ({
      amount: line.amount,
      description: line.description,
      type: line.type,
      account: line.account,
      result: line.result,
      fail_reason: line.failReason ?? '',
      detail_id: line.detailId,
      create_time: formatChinaTime(line.createdAt),
      ...(line.finishedAt !== undefined ? { finish_time: formatChinaTime(line.finishedAt) } : {}),
    })),
  };
}

export function splitReturnJson(entry: SplitReturn, partner: boolean): Json {
  return {
    ...(partner ? { sub_mchid: entry.mchid } : {}),
    order_id: entry.orderId,
    out_order_no: entry.outOrderNo,
    out_return_no: entry.outReturnNo,
    return_id: entry.returnId,
    return_mchid: entry.returnMchid,
    amount: entry.amount,
    description: entry.description,
    result: entry.result,
    ...(entry.failReason ? { fail_reason: entry.failReason } : {}),
    create_time: formatChinaTime(entry.createdAt),
    ...(entry.finishedAt !== undefined ? { finish_time: formatChinaTime(entry.finishedAt) } : {}),
  };
}

/**
 * Whose receivers and splits a request is about (the signer, or the sub-merchant in sub_mchid) and
 * under which appid: the signer's, and a sub_appid must be the sub-merchant's.
 */
function parties(gateway: WxpayGateway, merchant: Merchant, body: Json, needsAppid: boolean) {
  const owner = ownerMchid(gateway, merchant, body.sub_mchid);
  const appid = body.appid;
  if (!needsAppid)
    return { owner, appid: '', spMchid: owner === merchant.mchid ? undefined : merchant.mchid };
  if (appid === undefined || appid === '') throw missingField('appid');
  if (typeof appid !== 'string' || !merchant.appids.has(appid))
    throw new WxpayWireError(400, 'APPID_MCHID_NOT_MATCH', 'appid和mchid不匹配，请检查后重试', {
      field: 'appid',
      value: appid,
    });
  const subAppid = body.sub_appid;
  if (subAppid !== undefined && owner !== merchant.mchid) {
    const subMerchant = gateway.subMerchants.get(owner);
    if (typeof subAppid !== 'string' || !subMerchant?.appids.has(subAppid))
      throw new WxpayWireError(400, 'APPID_MCHID_NOT_MATCH', 'sub_appid和sub_mchid不匹配，请检查后重试', {
        field: 'sub_appid',
      });
  }
  return { owner, appid, spMchid: owner === merchant.mchid ? undefined : merchant.mchid };
}

/** A name encrypted with the WeChat Pay key that Wechatpay-Serial names (RSA-OAEP). */
function decryptName(gateway: WxpayGateway, merchant: Merchant, request: FastifyRequest, value: unknown) {
  if (value === undefined || value === null || value === '') return undefined;
  const serial = request.headers['wechatpay-serial'];
  const key = gateway.merchants.decryptionKey(merchant, typeof serial === 'string' ? serial : undefined);
  if (!key) throw invalidRequest('Wechatpay-Serial 不是有效的微信支付公钥ID或平台证书序列号');
  try {
    return privateDecrypt(
      { key: key.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
      Buffer.from(String(value), 'base64'),
    ).toString('utf8');
  } catch {
    throw invalidField('name', '(encrypted)', '解密失败，请使用微信支付公钥或平台证书加密');
  }
}

/** The merchant order a fault may target: the trade the request's transaction_id names. */
function tradeOf(gateway: WxpayGateway, context: SignedRequestContext): string | undefined {
  const transactionId = context.body.transaction_id;
  return typeof transactionId === 'string' ? gateway.trades.findPaid(transactionId)?.outTradeNo : undefined;
}

/** The signed API, mounted at /v3/profitsharing. */
export async function profitSharingApiRoutes(
  scope: FastifyInstance,
  options: { gateway: WxpayGateway },
): Promise<void> {
  const { gateway } = options;
  const book = gateway.profitSharing;
  installSignedTransport(scope, gateway);

  scope.post(
    '/receivers/add',
    signedOperation(gateway, {
      operation: 'profitSharingReceivers',
      handle: ({ merchant, body }, request) => {
        const { owner, appid, spMchid } = parties(gateway, merchant, body, true);
        const name = decryptName(gateway, merchant, request, body.name);
        const receiver = book.addReceiver(owner, appid, body, name);
        return {
          status: 200,
          body: {
            ...(spMchid ? { sub_mchid: owner } : {}),
            type: receiver.type,
            account: receiver.account,
            ...(body.name ? { name: body.name } : {}),
            relation_type: receiver.relationType,
            ...(receiver.customRelation ? { custom_relation: receiver.customRelation } : {}),
          },
        };
      },
    }),
  );

  scope.post(
    '/receivers/delete',
    signedOperation(gateway, {
      operation: 'profitSharingReceivers',
      handle: ({ merchant, body }) => {
        const { owner, appid, spMchid } = parties(gateway, merchant, body, true);
        const removed = book.removeReceiver(owner, appid, body);
        return { status: 200, body: { ...(spMchid ? { sub_mchid: owner } : {}), ...removed } };
      },
    }),
  );

  scope.post(
    '/orders',
    signedOperation(gateway, {
      operation: 'profitSharing',
      outTradeNo: (context) => tradeOf(gateway, context),
      handle: ({ merchant, body }, request) => {
        const { owner, appid, spMchid } = parties(gateway, merchant, body, true);
        // A receiver's name, when given, must decrypt; the emulator does not check it further.
        const lines = Array.isArray(body.receivers) ? (body.receivers as Json[]) : [];
        for (const line of lines) decryptName(gateway, merchant, request, line?.name);
        return { status: 200, body: splitOrderJson(book.split(owner, spMchid, appid, body)) };
      },
    }),
  );

  scope.post(
    '/orders/unfreeze',
    signedOperation(gateway, {
      operation: 'profitSharingUnfreeze',
      outTradeNo: (context) => tradeOf(gateway, context),
      handle: ({ merchant, body }) => {
        const { owner, spMchid } = parties(gateway, merchant, body, false);
        return { status: 200, body: splitOrderJson(book.unfreeze(owner, spMchid, body)) };
      },
    }),
  );

  scope.get(
    '/orders/:outOrderNo',
    signedOperation(gateway, {
      operation: 'profitSharingQuery',
      handle: ({ merchant }, request) => {
        const query = request.query as Query;
        if (!query.transaction_id) throw missingField('transaction_id');
        const owner = ownerMchid(gateway, merchant, query.sub_mchid);
        const order = book.order(owner, (request.params as Params).outOrderNo!, query.transaction_id);
        return { status: 200, body: splitOrderJson(order) };
      },
    }),
  );

  scope.get(
    '/transactions/:transactionId/amounts',
    signedOperation(gateway, {
      operation: 'profitSharingAmounts',
      handle: ({ merchant }, request) => {
        const transactionId = (request.params as Params).transactionId!;
        const trade = gateway.trades.findPaid(transactionId);
        // The signer's own trade, or one it placed for a sub-merchant.
        if (!trade || (trade.mchid !== merchant.mchid && trade.partner?.spMchid !== merchant.mchid))
          throw new WxpayWireError(404, 'RESOURCE_NOT_EXISTS', '订单不存在');
        return {
          status: 200,
          body: { transaction_id: transactionId, unsplit_amount: book.unsplitFen(trade) },
        };
      },
    }),
  );

  scope.post(
    '/return-orders',
    signedOperation(gateway, {
      operation: 'profitSharingReturn',
      handle: ({ merchant, body }) => {
        const owner = ownerMchid(gateway, merchant, body.sub_mchid);
        return {
          status: 200,
          body: splitReturnJson(book.returnSplit(owner, body), owner !== merchant.mchid),
        };
      },
    }),
  );

  scope.get(
    '/return-orders/:outReturnNo',
    signedOperation(gateway, {
      operation: 'profitSharingReturnQuery',
      handle: ({ merchant }, request) => {
        const query = request.query as Query;
        if (!query.out_order_no) throw missingField('out_order_no');
        const owner = ownerMchid(gateway, merchant, query.sub_mchid);
        const entry = book.getReturn(owner, (request.params as Params).outReturnNo!, query.out_order_no);
        return { status: 200, body: splitReturnJson(entry, owner !== merchant.mchid) };
      },
    }),
  );
}

/** The sandbox's side, mounted at /sandbox/profitsharing: not WeChat's protocol, unauthenticated. */
export async function profitSharingControlRoutes(
  scope: FastifyInstance,
  options: { gateway: WxpayGateway },
): Promise<void> {
  const book = options.gateway.profitSharing;
  scope.setErrorHandler((error, _request, reply) => {
    if (error instanceof WxpayWireError) return reply.code(error.status).send(error.toBody());
    return reply.code(500).send({ code: 'SYSTEM_ERROR', message: (error as Error).message });
  });

  // The merchant platform's settings: the notify URL of PROFITSHARING.* and the max ratio.
  scope.post('/merchants/:mchid', async (request) => {
    const body = (request.body ?? {}) as Json;
    const { notifyUrl, maxRatio } = body;
    if (notifyUrl !== undefined && typeof notifyUrl !== 'string')
      throw invalidField('notifyUrl', notifyUrl, '应为URL');
    if (maxRatio !== undefined && typeof maxRatio !== 'number')
      throw invalidField('maxRatio', maxRatio, '应为0到1之间的比例');
    return book.configure((request.params as Params).mchid!, {
      ...(notifyUrl !== undefined ? { notifyUrl } : {}),
      ...(maxRatio !== undefined ? { maxRatio } : {}),
    });
  });

  // A receiver account whose lines close (ACCOUNT_ABNORMAL), or that is normal again.
  scope.post('/accounts', async (request) => {
    const { account, status } = (request.body ?? {}) as Json;
    if (typeof account !== 'string' || account === '') throw missingField('account');
    if (status !== 'CLOSED' && status !== 'NORMAL')
      throw invalidField('status', status, '取值应为CLOSED|NORMAL');
    if (status === 'CLOSED') book.closedAccounts.add(account);
    else book.closedAccounts.delete(account);
    return { account, status };
  });

  // The receivers bound for a merchant, names decrypted (what arrived).
  scope.get('/receivers/:mchid', async (request) =>
    book.receiversOf((request.params as Params).mchid!).map((receiver) => ({
      appid: receiver.appid,
      type: receiver.type,
      account: receiver.account,
      name: receiver.name ?? null,
      relation_type: receiver.relationType,
    })),
  );

  scope.get('/orders/:mchid/:outOrderNo', async (request) => {
    const { mchid, outOrderNo } = request.params as Params;
    const order = book.findOrder(mchid!, outOrderNo!);
    if (!order) throw new WxpayWireError(404, 'RESOURCE_NOT_EXISTS', '分账单不存在');
    return splitOrderJson(order);
  });

  // Settles a split's PENDING lines now, instead of after the gateway's delay.
  scope.post('/orders/:mchid/:outOrderNo/settle', async (request) => {
    const { mchid, outOrderNo } = request.params as Params;
    const order = book.findOrder(mchid!, outOrderNo!);
    if (!order) throw new WxpayWireError(404, 'RESOURCE_NOT_EXISTS', '分账单不存在');
    return splitOrderJson(book.settle(order));
  });
}
