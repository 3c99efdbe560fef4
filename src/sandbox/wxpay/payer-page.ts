/**
 * The payer's side: a plain server-rendered page for a prepay_id, an h5_url or a code_url where a
 * person or a browser test pays, pays with an insufficient balance, or gives up. Buttons are
 * forms that POST back here; no script is needed.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { WxpayGateway } from './gateway.ts';
import type { Trade } from './trades.ts';
import { WxpayWireError } from './wire-errors.ts';

type Params = Record<string, string>;
type Query = Record<string, string | undefined>;

const ACTIONS = ['pay', 'fail', 'abandon'] as const;
type PayerAction = (typeof ACTIONS)[number];

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Integer fen shown as yuan without floating point. */
function yuan(fen: number): string {
  return `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
}

function renderPage(
  trade: Trade,
  expired: boolean,
  actionBase: string,
  notice: string | undefined,
  redirectUrl: string | undefined,
) {
  const payable = !expired && (trade.tradeState === 'NOTPAY' || trade.tradeState === 'USERPAYING');
  const hidden = redirectUrl
    ? `<input type="hidden" name="redirect_url" value="${escapeHtml(redirectUrl)}">`
    : '';
  const button = (action: PayerAction, label: string) =>
    `<form method="post" action="${escapeHtml(`${actionBase}/${action}`)}">${hidden}` +
    `<button type="submit" name="action" value="${action}" data-testid="${action}">${escapeHtml(label)}</button></form>`;
  const buttons = payable
    ? button('pay', `确认支付 Pay ¥${yuan(trade.totalFen)}`) +
      button('fail', '余额不足 Pay with insufficient balance') +
      button('abandon', '放弃支付 Give up')
    : '';
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>WeChat Pay sandbox payer</title>
<style>body{font-family:sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem}form{margin:.5rem 0}
button{width:100%;padding:.75rem;font-size:1rem}.amount{font-size:2rem}.notice{padding:.5rem;background:#ffe}</style>
</head><body>
<h1>微信支付 Sandbox</h1>
<p>商户号 Merchant: <span data-testid="mchid">${escapeHtml(trade.mchid)}</span></p>
<p>商品 Description: <span data-testid="description">${escapeHtml(trade.description)}</span></p>
<p class="amount">¥<span data-testid="amount">${yuan(trade.totalFen)}</span></p>
<p>订单号 Order: <span data-testid="out-trade-no">${escapeHtml(trade.outTradeNo)}</span></p>
<p>状态 State: <strong data-testid="trade-state">${trade.tradeState}</strong> (${escapeHtml(trade.tradeStateDesc)})</p>
${expired ? '<p class="notice" data-testid="expired">订单已过期，无法支付 (past time_expire)</p>' : ''}
${notice ? `<p class="notice" data-testid="notice">${escapeHtml(notice)}</p>` : ''}
${buttons}
</body></html>`;
}

export async function payerPageRoutes(
  scope: FastifyInstance,
  options: { gateway: WxpayGateway },
): Promise<void> {
  const { gateway } = options;
  const prepayPath = (prepayId: string) => `${scope.prefix}/prepay/${encodeURIComponent(prepayId)}`;
  const nativePath = (token: string) => `${scope.prefix}/native/${encodeURIComponent(token)}`;
  scope.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );

  const notFound = (reply: FastifyReply) =>
    reply
      .code(404)
      .type('text/html; charset=utf-8')
      .send('<!doctype html><p>订单不存在或支付链接已失效 (order not found)</p>');

  const show = (reply: FastifyReply, trade: Trade | undefined, actionBase: string, query: Query) => {
    if (!trade) return notFound(reply);
    return reply
      .type('text/html; charset=utf-8')
      .send(renderPage(trade, gateway.trades.isExpired(trade), actionBase, query.notice, query.redirect_url));
  };

  scope.get('/prepay/:prepayId', async (request, reply) => {
    const { prepayId } = request.params as Params;
    return show(
      reply,
      gateway.trades.findByPrepayId(prepayId!),
      prepayPath(prepayId!),
      request.query as Query,
    );
  });

  scope.get('/h5', async (request, reply) => {
    const query = request.query as Query;
    const prepayId = query.prepay_id ?? '';
    return show(reply, gateway.trades.findByPrepayId(prepayId), prepayPath(prepayId), query);
  });

  scope.get('/native/:token', async (request, reply) => {
    const { token } = request.params as Params;
    return show(reply, gateway.trades.findByCodeToken(token!), nativePath(token!), request.query as Query);
  });

  /** Resolves a weixin:// code_url, as scanning the QR code would. */
  scope.get('/', async (request, reply) => {
    const codeUrl = (request.query as Query).code_url ?? '';
    const token = /[?&]pr=([^&]+)/.exec(codeUrl)?.[1];
    if (!token || !gateway.trades.findByCodeToken(token)) return notFound(reply);
    return reply.redirect(nativePath(token), 303);
  });

  const act = (trade: Trade | undefined, action: PayerAction): string => {
    if (!trade) throw new WxpayWireError(404, 'ORDER_NOT_EXIST', '订单不存在');
    if (action === 'pay') gateway.trades.pay(trade.mchid, trade.outTradeNo);
    if (action === 'fail') gateway.trades.failPayment(trade.mchid, trade.outTradeNo, 'NOT_ENOUGH');
    if (action === 'abandon') gateway.trades.abandon(trade.mchid, trade.outTradeNo);
    return { pay: '支付成功 Paid', fail: '余额不足 NOT_ENOUGH', abandon: '已放弃支付 Given up' }[action];
  };

  const handleAction = (
    trade: Trade | undefined,
    action: string,
    pagePath: string,
    body: unknown,
    reply: FastifyReply,
  ) => {
    if (!(ACTIONS as readonly string[]).includes(action)) return notFound(reply);
    let notice: string;
    try {
      notice = act(trade, action as PayerAction);
    } catch (error) {
      if (!(error instanceof WxpayWireError)) throw error;
      notice = `${error.code}: ${error.message}`;
    }
    const redirectUrl = (body as Record<string, string> | undefined)?.redirect_url;
    // H5 returns to the merchant's redirect_url after the payer acts, as the WeChat H5 cashier does.
    if (redirectUrl && action !== 'fail') return reply.redirect(redirectUrl, 303);
    const query = new URLSearchParams({ notice, ...(redirectUrl ? { redirect_url: redirectUrl } : {}) });
    return reply.redirect(`${pagePath}?${query}`, 303);
  };

  scope.post('/prepay/:prepayId/:action', async (request, reply) => {
    const { prepayId, action } = request.params as Params;
    return handleAction(
      gateway.trades.findByPrepayId(prepayId!),
      action!,
      prepayPath(prepayId!),
      request.body,
      reply,
    );
  });

  scope.post('/native/:token/:action', async (request, reply) => {
    const { token, action } = request.params as Params;
    return handleAction(
      gateway.trades.findByCodeToken(token!),
      action!,
      nativePath(token!),
      request.body,
      reply,
    );
  });
}
