/**
 * The sandbox control API (JSON, under /sandbox/alipay): register apps and get their keys and
 * certificates, act as the buyer without a page, end a trade's refund window, inject faults and
 * read the notification log. Not part of Alipay's protocol, so neither authenticated nor signed:
 * run the emulator on a trusted interface.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { fenToYuan } from '../../core/money.ts';
import { applyClockChange, clockView } from '../shared/clock.ts';
import { type AppRegistration, AppRegistryError } from './apps.ts';
import { applyBuyerAction, type BuyerAction } from './buyer-actions.ts';
import { type FaultSpec, FaultSpecError, faultView } from './faults.ts';
import type { AlipayGateway } from './gateway.ts';
import { CodeRequestError } from './payment-codes.ts';
import { RejectedRequest } from './request-auth.ts';
import { beijingTime } from './runtime.ts';
import type { Buyer, Trade } from './trades.ts';
import { AlipayGatewayError } from './wire-errors.ts';

export interface ControlRoutesOptions {
  gateway: AlipayGateway;
  /** Absolute URL of the sandbox pages for this request, e.g. http://127.0.0.1:8091/sandbox/alipay. */
  sandboxBaseUrl: (request: FastifyRequest) => string;
}

type Params = Record<string, string>;
type Body = Record<string, unknown> | undefined;

class NotFound extends Error {}

export function tradeView(
  gateway: AlipayGateway,
  trade: Trade,
  sandboxBaseUrl: string,
): Record<string, unknown> {
  return {
    appId: trade.appId,
    outTradeNo: trade.outTradeNo,
    tradeNo: trade.tradeNo,
    product: trade.product,
    tradeStatus: trade.status,
    visible: trade.visible,
    totalAmount: fenToYuan(trade.totalFen),
    totalFen: trade.totalFen,
    refundedFen: trade.refundedFen,
    refundableFen: gateway.trades.refundableFen(trade),
    buyer: trade.buyer ?? null,
    lastFailure: trade.lastFailure ?? null,
    expiresAt: trade.expiresAt === undefined ? null : beijingTime(trade.expiresAt),
    payerPageUrl: `${sandboxBaseUrl}/pay/${trade.payToken}`,
    qrCode: trade.product === 'precreate' ? `${sandboxBaseUrl}/qr/${trade.payToken}` : null,
    refunds: trade.refunds.map((refund) => ({ ...refund, refundAmount: fenToYuan(refund.refundFen) })),
    // Profit sharing: created with royalty_freeze, and where its money is (royalty-accounts.ts).
    royaltyFreeze: trade.royaltyFreeze ?? false,
    royalty: trade.royalty
      ? {
          unsettledFen: trade.royalty.frozenFen,
          releasedFen: trade.royalty.releasedFen,
          finished: trade.royalty.finished,
          received: trade.royalty.received,
          settles: trade.royalty.settles.map((settle) => settle.outRequestNo),
        }
      : null,
  };
}

export async function controlRoutes(scope: FastifyInstance, options: ControlRoutesOptions): Promise<void> {
  const { gateway } = options;

  scope.setErrorHandler((error, _request, reply) => {
    if (error instanceof NotFound)
      return reply.code(404).send({ error: 'NOT_FOUND', message: error.message });
    if (
      error instanceof AppRegistryError ||
      error instanceof FaultSpecError ||
      error instanceof CodeRequestError
    ) {
      return reply.code(400).send({ error: 'INVALID_REQUEST', message: error.message });
    }
    if (error instanceof RejectedRequest)
      return reply.code(400).send({ error: 'REJECTED', ...error.error.toResponse() });
    if (error instanceof AlipayGatewayError)
      return reply.code(409).send({ error: 'TRADE_RULE', ...error.toResponse() });
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    return reply
      .code(status)
      .send({ error: status < 500 ? 'INVALID_REQUEST' : 'INTERNAL', message: (error as Error).message });
  });

  const tradeOf = (request: FastifyRequest): Trade => {
    const { appId, outTradeNo } = request.params as Params;
    const trade = gateway.trades.lookup(appId!, outTradeNo!);
    if (!trade) throw new NotFound(`no trade ${outTradeNo} for app ${appId}`);
    return trade;
  };
  const view = (trade: Trade, request: FastifyRequest) =>
    tradeView(gateway, trade, options.sandboxBaseUrl(request));

  scope.post('/apps', async (request) => gateway.apps.register((request.body ?? {}) as AppRegistration));

  scope.get('/apps/:appId', async (request) => {
    const appId = (request.params as Params).appId!;
    if (!gateway.apps.find(appId)) throw new NotFound(`app ${appId} is not registered`);
    return gateway.apps.credentials(appId);
  });

  scope.post('/apps/:appId/rotate-alipay-cert', async (request) => {
    const appId = (request.params as Params).appId!;
    if (!gateway.apps.find(appId)) throw new NotFound(`app ${appId} is not registered`);
    return gateway.apps.rotateAlipayCert(appId);
  });

  // Gateway time (trades, expiry, bills); notify_time and certificates keep wall time.
  scope.get('/clock', async () => clockView(gateway.runtime.clock));
  scope.post('/clock', async (request) => {
    applyClockChange(gateway.runtime.clock, request.body);
    gateway.trades.expireDue();
    return clockView(gateway.runtime.clock);
  });

  scope.get('/trades/:appId/:outTradeNo', async (request) => view(tradeOf(request), request));

  const buyerAction = (action: BuyerAction) => async (request: FastifyRequest) => {
    const body = request.body as Body;
    const buyer: Partial<Buyer> = {};
    if (typeof body?.buyerId === 'string') buyer.buyerId = body.buyerId;
    if (typeof body?.buyerLogonId === 'string') buyer.buyerLogonId = body.buyerLogonId;
    if (typeof body?.buyerOpenId === 'string') buyer.buyerOpenId = body.buyerOpenId;
    const trade = applyBuyerAction(gateway, tradeOf(request), action, {
      buyer,
      ...(typeof body?.subCode === 'string' ? { subCode: body.subCode } : {}),
    });
    return view(trade, request);
  };
  scope.post('/trades/:appId/:outTradeNo/pay', buyerAction('pay'));
  scope.post('/trades/:appId/:outTradeNo/fail', buyerAction('insufficient'));
  scope.post('/trades/:appId/:outTradeNo/abandon', buyerAction('abandon'));
  scope.post('/trades/:appId/:outTradeNo/scan', async (request) =>
    view(gateway.trades.reveal(tradeOf(request)), request),
  );
  scope.post('/trades/:appId/:outTradeNo/finish', async (request) =>
    view(gateway.trades.finish(tradeOf(request)), request),
  );

  // The trade's latest notification, sent once more to its notify_url (faults apply as to any send).
  scope.post('/trades/:appId/:outTradeNo/notify', async (request) => {
    const trade = tradeOf(request);
    const record = gateway.notifier.resend(trade.appId, trade.outTradeNo);
    if (!record) throw new NotFound(`trade ${trade.outTradeNo} has had no notification`);
    return record;
  });

  // A sandbox buyer's payment code for alipay.trade.pay (bar_code): single use, short-lived.
  scope.post('/payment-codes', async (request) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const buyer: Partial<Buyer> = {};
    if (typeof body.buyerId === 'string') buyer.buyerId = body.buyerId;
    if (typeof body.buyerLogonId === 'string') buyer.buyerLogonId = body.buyerLogonId;
    const issued = gateway.paymentCodes.issue({
      behaviour: body.behaviour,
      ttlSeconds: body.ttlSeconds,
      buyer,
    });
    return { ...issued, expiresAt: beijingTime(issued.expiresAt) };
  });

  scope.post('/app-orders', async (request) => {
    const orderString = (request.body as Body)?.orderString;
    if (typeof orderString !== 'string') throw new AppRegistryError('orderString is required');
    return view(gateway.openAppOrder(orderString).trade, request);
  });

  scope.get('/faults', async () => gateway.faults.list().map(faultView));
  scope.post('/faults', async (request) => faultView(gateway.faults.add((request.body ?? {}) as FaultSpec)));
  scope.delete('/faults', async () => ({ removed: gateway.faults.clear() }));
  scope.delete('/faults/:id', async (request) => ({
    removed: gateway.faults.clear((request.params as Params).id),
  }));

  scope.get('/notifications', async (request) => {
    const query = request.query as Record<string, string | undefined>;
    return gateway.notifier.list({
      ...(query.app_id ? { appId: query.app_id } : {}),
      ...(query.out_trade_no ? { outTradeNo: query.out_trade_no } : {}),
    });
  });
}
