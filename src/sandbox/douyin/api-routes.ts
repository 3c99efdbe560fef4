/**
 * The platform's server APIs on the wire: client_token, the trade system's order and refund calls,
 * the legacy ecpay calls. Trade answers are signed with the app's platform key (Byte-Timestamp,
 * Byte-Nonce-Str, Byte-Signature).
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DouyinFailure, type DouyinGateway, ERR } from './gateway.ts';
import { isNotifyUrl, verifyAppSignature } from './request-order.ts';
import { legacySign, platformSigningText, signRsa } from './signing.ts';
import type { DouyinApp, DouyinOrder } from './state.ts';

type Json = Record<string, unknown>;

function bodyOf(request: FastifyRequest): Json {
  const text = typeof request.body === 'string' ? request.body : '';
  try {
    const value = JSON.parse(text || '{}') as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Json;
  } catch {
    // below
  }
  throw new DouyinFailure(ERR.invalidParams, 'body is not a JSON object', 400);
}

const chinaTime = (ms: number) => new Date(ms + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');

async function answerTrade(reply: FastifyReply, app: DouyinApp | null, payload: Json, status = 200) {
  const body = JSON.stringify(payload);
  const logId = randomBytes(12).toString('hex');
  reply.code(status).header('content-type', 'application/json').header('x-tt-logid', logId);
  if (app) {
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = randomBytes(8).toString('hex');
    reply
      .header('Byte-Timestamp', timestamp)
      .header('Byte-Nonce-Str', nonce)
      .header('Byte-Signature', signRsa(app.platformPrivateKey, platformSigningText(timestamp, nonce, body)));
  }
  return reply.send(body);
}

function tradeOrderView(order: DouyinOrder): Json {
  return {
    order_id: order.orderId,
    out_order_no: order.outOrderNo,
    pay_status: order.status,
    ...(order.paidAt
      ? {
          pay_time: chinaTime(order.paidAt),
          pay_channel: 1,
          channel_pay_id: `42000${order.orderId.slice(-12)}`,
        }
      : {}),
    total_amount: order.totalAmount,
    discount_amount: 0,
    merchant_uid: '7000000000000000000',
    cp_extra: '',
  };
}

export async function apiRoutes(app: FastifyInstance, { gateway }: { gateway: DouyinGateway }) {
  // Signatures cover the body exactly as sent.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) =>
    done(null, body),
  );

  app.post('/oauth/client_token/', async (request, reply) => {
    try {
      const body = bodyOf(request);
      if (body.grant_type !== 'client_credential')
        throw new DouyinFailure(10002, 'grant_type must be client_credential');
      const issued = gateway.issueToken(String(body.client_key ?? ''), String(body.client_secret ?? ''));
      return reply.send({
        data: { access_token: issued.token, description: '', error_code: 0, expires_in: issued.expiresIn },
        message: 'success',
      });
    } catch (error) {
      const failure = asFailure(error);
      return reply.send({
        data: { description: failure.message, error_code: failure.errNo },
        message: 'error',
      });
    }
  });

  const trade = (path: string, handle: (app: DouyinApp, body: Json) => Json) =>
    app.post(`/api/trade_basic/v1/developer/${path}/`, async (request, reply) => {
      let app: DouyinApp | null = null;
      try {
        const raw = typeof request.body === 'string' ? request.body : '';
        app = gateway.appOfToken(request.headers['access-token'] as string | undefined);
        verifyAppSignature(
          gateway,
          request.headers['byte-authorization'] as string | undefined,
          request.url,
          raw,
          app.appId,
        );
        gateway.takeFault(app.appId, path);
        const data = handle(app, bodyOf(request));
        return answerTrade(reply, app, {
          err_no: 0,
          err_msg: 'success',
          log_id: randomBytes(8).toString('hex'),
          data,
        });
      } catch (error) {
        const failure = asFailure(error);
        return answerTrade(
          reply,
          failure.httpStatus >= 500 ? null : app,
          { err_no: failure.errNo, err_msg: failure.message, log_id: randomBytes(8).toString('hex') },
          failure.httpStatus === 401 ? 200 : failure.httpStatus,
        );
      }
    });

  trade('order_query', (app, body) => {
    const order =
      typeof body.order_id === 'string'
        ? gateway.orderById(app.appId, body.order_id)
        : gateway.order(app.appId, String(body.out_order_no ?? ''));
    return tradeOrderView(order);
  });
  trade('refund_create', (app, body) => {
    if (!isNotifyUrl(body.notify_url))
      throw new DouyinFailure(ERR.invalidParams, 'notify_url must be an HTTPS URL');
    const schema = body.order_entry_schema as Json | undefined;
    if (!schema || typeof schema.path !== 'string')
      throw new DouyinFailure(ERR.invalidParams, 'order_entry_schema.path is required');
    const refund = gateway.createRefund(app, {
      outOrderNo: String(body.out_order_no ?? ''),
      outRefundNo: String(body.out_refund_no ?? ''),
      amount: body.refund_total_amount as number,
      notifyUrl: body.notify_url,
    });
    return {
      refund_id: refund.refundId,
      refund_audit_deadline: Math.floor(refund.createdAt / 1000) + 72 * 3600,
    };
  });
  trade('refund_query', (app, body) => {
    const refund = gateway.refund(app.appId, String(body.out_refund_no ?? ''));
    return {
      refund_list: [
        {
          refund_id: refund.refundId,
          out_refund_no: refund.outRefundNo,
          refund_total_amount: refund.amount,
          refund_status: refund.status,
          ...(refund.settledAt ? { refund_at: Math.floor(refund.settledAt / 1000) } : {}),
          order_id: gateway.order(app.appId, refund.outOrderNo).orderId,
        },
      ],
    };
  });

  const ecpay = (path: string, handle: (app: DouyinApp, body: Json) => Json) =>
    app.post(`/api/apps/ecpay/v1/${path}`, async (request, reply) => {
      try {
        const body = bodyOf(request);
        const app = gateway.apps.get(String(body.app_id ?? ''));
        if (!app || app.api !== 'ecpay') throw new DouyinFailure(ERR.noPermission, 'app_id is unknown');
        if (body.sign !== legacySign(body, app.salt))
          throw new DouyinFailure(ERR.signature, 'sign does not verify');
        gateway.takeFault(app.appId, path);
        return reply.send({ err_no: 0, err_tips: '', ...handle(app, body) });
      } catch (error) {
        const failure = asFailure(error);
        return reply
          .code(failure.httpStatus === 401 ? 200 : failure.httpStatus)
          .send({ err_no: failure.errNo, err_tips: failure.message });
      }
    });

  ecpay('create_order', (app, body) => {
    const total = body.total_amount as number;
    if (!Number.isSafeInteger(total) || total <= 0)
      throw new DouyinFailure(ERR.paramError, 'total_amount must be positive fen');
    if (typeof body.out_order_no !== 'string' || !body.out_order_no)
      throw new DouyinFailure(ERR.paramError, 'out_order_no is required');
    if (typeof body.subject !== 'string' || typeof body.body !== 'string')
      throw new DouyinFailure(ERR.paramError, 'subject and body are required');
    const valid = body.valid_time as number;
    if (!Number.isSafeInteger(valid) || valid < 900 || valid > 172_800)
      throw new DouyinFailure(ERR.paramError, 'valid_time must be 900..172800');
    if (!isNotifyUrl(body.notify_url))
      throw new DouyinFailure(ERR.paramError, 'notify_url must be an HTTPS URL');
    const order = gateway.placeOrder(app, {
      outOrderNo: body.out_order_no,
      totalAmount: total,
      expireSeconds: valid,
      notifyUrl: body.notify_url,
      data: null,
    });
    return { data: { order_id: order.orderId, order_token: order.orderToken } };
  });
  ecpay('query_order', (app, body) => {
    const order = gateway.order(app.appId, String(body.out_order_no ?? ''));
    return {
      out_order_no: order.outOrderNo,
      order_id: order.orderId,
      payment_info: {
        total_fee: order.totalAmount,
        order_status: order.status === 'PROCESS' ? 'PROCESSING' : order.status,
        ...(order.paidAt ? { pay_time: chinaTime(order.paidAt) } : {}),
        way: '1',
        channel_no: '',
        seller_uid: '7000000000000000000',
      },
    };
  });
  ecpay('create_refund', (app, body) => {
    if (!isNotifyUrl(body.notify_url))
      throw new DouyinFailure(ERR.paramError, 'notify_url must be an HTTPS URL');
    const refund = gateway.createRefund(app, {
      outOrderNo: String(body.out_order_no ?? ''),
      outRefundNo: String(body.out_refund_no ?? ''),
      amount: body.refund_amount as number,
      notifyUrl: body.notify_url,
    });
    return { refund_no: refund.refundId };
  });
  ecpay('query_refund', (app, body) => {
    const refund = gateway.refund(app.appId, String(body.out_refund_no ?? ''));
    return {
      refundInfo: {
        refund_no: refund.refundId,
        refund_amount: refund.amount,
        refund_status: refund.status === 'FAIL' ? 'FAILURE' : refund.status,
      },
    };
  });
}

function asFailure(error: unknown): DouyinFailure {
  if (error instanceof DouyinFailure) return error;
  return new DouyinFailure(ERR.internal, (error as Error).message ?? 'internal error', 500);
}
