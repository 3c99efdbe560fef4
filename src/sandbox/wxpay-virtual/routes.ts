/**
 * The emulator's HTTP surface: WeChat's server API at the root (/cgi-bin/stable_token, /xpay/...)
 * answering `{errcode, errmsg}` as WeChat does, and the control API under /sandbox for tests and
 * the developer: register a mini program, log a buyer in, confirm a payment, inject faults, read
 * and resend pushes.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply } from 'fastify';
import { type Env, VirtualPayError, type WxVirtualGateway } from './gateway.ts';

function jsonBody(raw: unknown): Record<string, unknown> | null {
  if (typeof raw !== 'string') return null;
  try {
    const parsed = JSON.parse(raw);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed : null;
  } catch {
    return null;
  }
}

function answerError(reply: FastifyReply, error: unknown) {
  if (error instanceof VirtualPayError) return reply.send({ errcode: error.errcode, errmsg: error.errmsg });
  throw error;
}

export const apiRoutes: FastifyPluginAsync<{ gateway: WxVirtualGateway }> = async (app, { gateway }) => {
  // pay_sig covers the exact bytes of the body: keep them.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_request, body, done) => {
    done(null, body);
  });

  app.post('/cgi-bin/stable_token', async (request, reply) => {
    const body = jsonBody(request.body);
    if (body?.grant_type !== 'client_credential')
      return reply.send({ errcode: 40002, errmsg: 'invalid grant_type' });
    try {
      return reply.send(gateway.stableToken(body.appid, body.secret, body.force_refresh === true));
    } catch (error) {
      return answerError(reply, error);
    }
  });

  const xpay = (
    uri: string,
    work: (app: ReturnType<WxVirtualGateway['app']>, env: Env, body: Record<string, unknown>) => object,
  ) =>
    app.post<{ Querystring: Record<string, string | undefined> }>(uri, async (request, reply) => {
      try {
        const miniProgram = gateway.appOfToken(request.query.access_token);
        const raw = typeof request.body === 'string' ? request.body : '';
        const body = jsonBody(raw);
        if (!body) throw new VirtualPayError(268490002, 'the body must be a JSON object');
        const env = gateway.checkPaySig(miniProgram, uri, raw, request.query.pay_sig, body.env);
        return reply.send({ errcode: 0, errmsg: 'ok', ...work(miniProgram, env, body) });
      } catch (error) {
        return answerError(reply, error);
      }
    });

  xpay('/xpay/query_order', (miniProgram, env, body) => ({
    order: gateway.view(gateway.queryOrder(miniProgram, env, body)),
  }));
  xpay('/xpay/refund_order', (miniProgram, env, body) => {
    const refund = gateway.refundOrder(miniProgram, env, body);
    const paid = gateway.orders.get(`${miniProgram.appId}/${refund.pay_order_id}`);
    return {
      refund_order_id: refund.order_id,
      refund_wx_order_id: refund.wx_order_id,
      pay_order_id: refund.pay_order_id,
      pay_wx_order_id: paid?.wx_order_id ?? '',
    };
  });
  xpay('/xpay/notify_provide_goods', (miniProgram, env, body) => {
    gateway.notifyProvideGoods(miniProgram, env, body);
    return {};
  });
};

const controlError = (reply: FastifyReply, error: unknown) => {
  if (error instanceof VirtualPayError)
    return reply.status(400).send({ errCode: error.errcode, errMsg: error.errmsg });
  throw error;
};

export const controlRoutes: FastifyPluginAsync<{ gateway: WxVirtualGateway }> = async (
  app: FastifyInstance,
  { gateway },
) => {
  // biome-ignore lint/suspicious/noExplicitAny: control bodies are read field by field
  type Body = Record<string, any>;
  app.post<{ Body: Body }>('/apps', async (request, reply) => {
    try {
      const body = request.body ?? {};
      const registered = gateway.register({
        pushUrl: body.pushUrl ?? null,
        pushMode: body.pushMode,
        products: body.products,
        coinPriceFen: body.coinPriceFen ?? null,
      });
      return {
        appId: registered.appId,
        appSecret: registered.appSecret,
        originalId: registered.originalId,
        offerId: registered.offerId,
        appKey: registered.appKeys[0],
        sandboxAppKey: registered.appKeys[1],
        pushToken: registered.pushToken,
        encodingAesKey: registered.encodingAesKey,
        pushMode: registered.pushMode,
      };
    } catch (error) {
      return controlError(reply, error);
    }
  });
  app.patch<{ Params: { appId: string }; Body: Body }>('/apps/:appId', async (request, reply) => {
    try {
      const miniProgram = gateway.app(request.params.appId);
      if (typeof request.body?.pushUrl === 'string') miniProgram.pushUrl = request.body.pushUrl;
      if (request.body?.pushMode === 'aes' || request.body?.pushMode === 'plain')
        miniProgram.pushMode = request.body.pushMode;
      return { appId: miniProgram.appId, pushUrl: miniProgram.pushUrl, pushMode: miniProgram.pushMode };
    } catch (error) {
      return controlError(reply, error);
    }
  });
  app.post<{ Params: { appId: string }; Body: Body }>('/apps/:appId/sessions', async (request, reply) => {
    try {
      return gateway.login(request.params.appId, request.body?.openid);
    } catch (error) {
      return controlError(reply, error);
    }
  });
  app.post<{ Params: { appId: string }; Body: Body }>('/apps/:appId/payments', async (request, reply) => {
    try {
      const order = gateway.confirmPayment(request.params.appId, request.body ?? {});
      return { errMsg: 'requestVirtualPayment:ok', order: gateway.view(order) };
    } catch (error) {
      return controlError(reply, error);
    }
  });
  app.get<{ Params: { appId: string; orderId: string } }>(
    '/apps/:appId/orders/:orderId',
    async (request, reply) => {
      const order = gateway.orders.get(`${request.params.appId}/${request.params.orderId}`);
      if (!order) return reply.status(404).send({ errCode: 268500004, errMsg: 'order not exist' });
      return gateway.view(order);
    },
  );
  app.post<{ Params: { appId: string } }>('/apps/:appId/expire-tokens', async (request, reply) => {
    try {
      gateway.app(request.params.appId);
      gateway.expireTokens(request.params.appId);
      return { ok: true };
    } catch (error) {
      return controlError(reply, error);
    }
  });
  app.post<{ Body: Body }>('/faults', async (request, reply) => {
    const body = request.body ?? {};
    if (!['query_order', 'refund_order', 'stable_token', 'refund_result'].includes(body.api))
      return reply.status(400).send({ errCode: 268490002, errMsg: 'api must be one that can fail' });
    gateway.addFault({
      appId: typeof body.appId === 'string' ? body.appId : null,
      api: body.api,
      errcode: Number.isSafeInteger(body.errcode) ? body.errcode : -1,
      times: Number.isSafeInteger(body.times) && body.times > 0 ? body.times : 1,
    });
    return { ok: true };
  });
  app.get<{ Querystring: { appId?: string } }>('/pushes', async (request) =>
    gateway.pushes.records.filter((r) => !request.query.appId || r.appId === request.query.appId),
  );
  app.post<{ Params: { id: string } }>('/pushes/:id/resend', async (request, reply) => {
    const record = await gateway.pushes.resend(request.params.id);
    if (!record) return reply.status(404).send({ errCode: 404, errMsg: 'no such push' });
    return record;
  });
};
