/** The emulator's control API: what the developer's console, the buyer and a test do to the platform. */
import type { FastifyInstance } from 'fastify';
import { applyClockChange, ClockChangeError, clockView } from '../shared/clock.ts';
import { DouyinFailure, type DouyinGateway, ERR } from './gateway.ts';
import { requestOrder } from './request-order.ts';
import type { DouyinOrder } from './state.ts';

type Json = Record<string, unknown>;

export async function controlRoutes(app: FastifyInstance, { gateway }: { gateway: DouyinGateway }) {
  app.setErrorHandler((error, _request, reply) => {
    if (error instanceof DouyinFailure)
      return reply
        .code(error.httpStatus === 200 ? 400 : error.httpStatus)
        .send({ err_no: error.errNo, error: error.message });
    if (error instanceof ClockChangeError) return reply.code(400).send({ error: error.message });
    return reply
      .code((error as { statusCode?: number }).statusCode ?? 500)
      .send({ error: (error as Error).message });
  });
  const orderView = (order: DouyinOrder) => ({
    appId: order.appId,
    orderId: order.orderId,
    outOrderNo: order.outOrderNo,
    totalAmount: order.totalAmount,
    status: order.status,
    refunded: order.refunded,
    orderToken: order.orderToken,
  });

  app.post('/apps', async (request) => {
    const body = (request.body ?? {}) as Json;
    const registered = gateway.registerApp({
      ...(body.api ? { api: body.api as 'trade' | 'ecpay' } : {}),
      ...(typeof body.appId === 'string' ? { appId: body.appId } : {}),
      ...(typeof body.appPublicKeyPem === 'string' ? { appPublicKeyPem: body.appPublicKeyPem } : {}),
      ...(typeof body.keyVersion === 'string' ? { keyVersion: body.keyVersion } : {}),
      ...(body.refundMode === 'manual' ? { refundMode: 'manual' as const } : {}),
    });
    return registered.api === 'ecpay'
      ? { appId: registered.appId, api: 'ecpay', salt: registered.salt, token: registered.token }
      : {
          appId: registered.appId,
          api: 'trade',
          appSecret: registered.appSecret,
          keyVersion: registered.keyVersion,
          platformPublicKeyPem: registered.platformPublicKeyPem,
        };
  });
  // tt.requestOrder as the mini app calls it.
  app.post('/request-order', async (request) => {
    const body = (request.body ?? {}) as Json;
    return orderView(requestOrder(gateway, body.data, body.byteAuthorization));
  });
  // tt.pay with the order_token create_order gave (ecpay).
  app.post('/tt-pay', async (request) => {
    const body = (request.body ?? {}) as { orderInfo?: { order_id?: string; order_token?: string } };
    for (const order of gateway.orders.values()) {
      if (order.orderId === body.orderInfo?.order_id && order.orderToken === body.orderInfo?.order_token)
        return orderView(gateway.pay(order.appId, order.outOrderNo));
    }
    throw new DouyinFailure(ERR.invalidParams, 'orderInfo does not name an order', 400);
  });
  app.get('/orders/:appId/:outOrderNo', async (request) => {
    const { appId, outOrderNo } = request.params as { appId: string; outOrderNo: string };
    return orderView(gateway.order(appId, outOrderNo));
  });
  for (const action of ['pay', 'fail', 'cancel'] as const)
    app.post(`/orders/:appId/:outOrderNo/${action}`, async (request) => {
      const { appId, outOrderNo } = request.params as { appId: string; outOrderNo: string };
      return orderView(gateway[action](appId, outOrderNo));
    });
  app.get('/refunds/:appId/:outRefundNo', async (request) => {
    const { appId, outRefundNo } = request.params as { appId: string; outRefundNo: string };
    return gateway.refund(appId, outRefundNo);
  });
  app.post('/refunds/:appId/:outRefundNo/result', async (request) => {
    const { appId, outRefundNo } = request.params as { appId: string; outRefundNo: string };
    const status = ((request.body ?? {}) as Json).status;
    if (status !== 'SUCCESS' && status !== 'FAIL')
      throw new DouyinFailure(ERR.invalidParams, 'status must be SUCCESS or FAIL', 400);
    return gateway.settleRefund(appId, outRefundNo, status);
  });
  app.post('/faults', async (request) => {
    const body = (request.body ?? {}) as Json;
    if (typeof body.api !== 'string' || !Number.isSafeInteger(body.errNo))
      throw new DouyinFailure(
        ERR.invalidParams,
        'give api (order_query, refund_create, create_order, ...) and errNo',
        400,
      );
    gateway.faults.push({
      appId: typeof body.appId === 'string' ? body.appId : null,
      api: body.api,
      errNo: body.errNo as number,
      httpStatus: Number.isSafeInteger(body.httpStatus) ? (body.httpStatus as number) : 200,
      count: Number.isSafeInteger(body.count) ? (body.count as number) : 1,
    });
    return { faults: gateway.faults.filter((f) => f.count > 0).length };
  });
  app.delete('/faults', async () => {
    gateway.faults.length = 0;
    return { faults: 0 };
  });
  app.get('/notifications', async (request) => {
    const { appId } = request.query as { appId?: string };
    return gateway.notifier.records.filter((record) => !appId || record.appId === appId);
  });
  app.get('/clock', async () => clockView(gateway.clock));
  app.post('/clock', async (request) => {
    applyClockChange(gateway.clock, request.body);
    return clockView(gateway.clock);
  });
}
