/**
 * The buyer's side in a browser: the payer page behind QR codes (/qr/:token) and cashiers
 * (/pay/:token), its three buttons, the synchronous return to return_url with signed parameters,
 * and a stand-in for the Alipay app that opens order strings (/app).
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { applyBuyerAction, BUYER_ACTIONS, type BuyerAction } from './buyer-actions.ts';
import type { AlipayGateway } from './gateway.ts';
import { appOrderForm, errorPage, payerPage, resultPage } from './payer-html.ts';
import { RejectedRequest } from './request-auth.ts';
import type { Trade } from './trades.ts';
import { AlipayGatewayError } from './wire-errors.ts';
import { returnUrlParams } from './wire-views.ts';

export interface PageRoutesOptions {
  gateway: AlipayGateway;
  /** The path under which these routes live, e.g. /sandbox/alipay, for links and form actions. */
  basePath: string;
}

type Params = Record<string, string>;

function withQuery(url: string, params: Record<string, string>): string {
  return `${url}${url.includes('?') ? '&' : '?'}${new URLSearchParams(params).toString()}`;
}

export async function pageRoutes(scope: FastifyInstance, options: PageRoutesOptions): Promise<void> {
  const { gateway, basePath } = options;
  const html = (reply: FastifyReply, body: string, status = 200) =>
    reply.code(status).type('text/html; charset=utf-8').send(body);
  const showTrade = (reply: FastifyReply, trade: Trade) =>
    html(reply, payerPage(trade, `${basePath}/pay/${trade.payToken}`));
  const notFound = (reply: FastifyReply) =>
    html(
      reply,
      errorPage({ code: '40004', sub_code: 'ACQ.TRADE_NOT_EXIST', sub_msg: '二维码或订单不存在' }),
      404,
    );

  // Scanning the code is what makes a precreated trade exist at Alipay.
  // A bill_download_url: no signature, valid 30 seconds, as Alipay's.
  scope.get('/bills/:token', async (request, reply) => {
    const zip = gateway.bills.take((request.params as { token: string }).token);
    if (!zip) return reply.code(404).type('text/plain; charset=utf-8').send('账单下载链接已失效');
    return reply.type('application/zip').send(Buffer.from(zip));
  });

  scope.get('/qr/:token', async (request, reply) => {
    const trade = gateway.trades.byPayToken((request.params as Params).token!);
    return trade ? showTrade(reply, gateway.trades.reveal(trade)) : notFound(reply);
  });

  scope.get('/pay/:token', async (request, reply) => {
    const trade = gateway.trades.byPayToken((request.params as Params).token!);
    return trade ? showTrade(reply, trade) : notFound(reply);
  });

  scope.post('/pay/:token/:action', async (request, reply) => {
    const { token, action } = request.params as Params;
    const trade = gateway.trades.byPayToken(token!);
    if (!trade) return notFound(reply);
    if (!BUYER_ACTIONS.includes(action as BuyerAction))
      return html(reply, errorPage({ sub_msg: 'unknown action' }), 400);
    try {
      if (action === 'abandon') gateway.trades.leave(trade);
      else applyBuyerAction(gateway, trade, action as BuyerAction);
    } catch (error) {
      if (error instanceof AlipayGatewayError) return html(reply, errorPage(error.toResponse()), 409);
      throw error;
    }
    const app = gateway.apps.get(trade.appId);
    const browserProduct = trade.product === 'page' || trade.product === 'wap';
    if (action === 'pay' && browserProduct && trade.returnUrl) {
      return reply.redirect(
        withQuery(trade.returnUrl, returnUrlParams(app, trade, gateway.runtime.clock.wall.now())),
        302,
      );
    }
    if (action === 'abandon' && trade.product === 'wap' && trade.quitUrl)
      return reply.redirect(trade.quitUrl, 302);
    if (action === 'insufficient') return showTrade(reply, trade);
    return html(reply, resultPage(action === 'pay' ? '支付成功' : '已离开付款页，交易仍待付款', trade));
  });

  scope.get('/app', async (_request, reply) => html(reply, appOrderForm(`${basePath}/app`)));

  scope.post('/app', async (request, reply) => {
    const orderString = (request.body as Params | undefined)?.order_string ?? '';
    try {
      const { trade } = gateway.openAppOrder(orderString);
      return reply.redirect(`${basePath}/pay/${trade.payToken}`, 303);
    } catch (error) {
      if (error instanceof RejectedRequest) return html(reply, errorPage(error.error.toResponse()), 400);
      if (error instanceof AlipayGatewayError) return html(reply, errorPage(error.toResponse()), 400);
      throw error;
    }
  });
}
