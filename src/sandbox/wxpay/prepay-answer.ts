/**
 * What a prepay answers, for direct and partner requests alike: Native a code_url, H5 an h5_url
 * to the payer page, JSAPI and APP a prepay_id.
 */
import type { FastifyRequest } from 'fastify';
import type { WxpayGateway } from './gateway.ts';
import { randomDigits } from './runtime.ts';
import type { WireReply } from './signed-scope.ts';
import type { Trade } from './trades.ts';
import type { TradeType } from './wire-requests.ts';

export const PREPAY_PRODUCTS: Array<{ path: string; tradeType: TradeType }> = [
  { path: 'jsapi', tradeType: 'JSAPI' },
  { path: 'app', tradeType: 'APP' },
  { path: 'h5', tradeType: 'MWEB' },
  { path: 'native', tradeType: 'NATIVE' },
];

export function prepayAnswer(
  gateway: WxpayGateway,
  payerBaseUrl: (request: FastifyRequest) => string,
  trade: Trade,
  request: FastifyRequest,
): WireReply {
  if (trade.tradeType === 'NATIVE')
    return { status: 200, body: { code_url: `weixin://wxpay/bizpayurl?pr=${trade.codeToken}` } };
  if (trade.tradeType === 'MWEB') {
    const base = payerBaseUrl(request);
    const pkg = randomDigits(gateway.runtime.random, 10);
    return {
      status: 200,
      body: { h5_url: `${base}/sandbox/payer/h5?prepay_id=${trade.prepayId}&package=${pkg}` },
    };
  }
  return { status: 200, body: { prepay_id: trade.prepayId } };
}
