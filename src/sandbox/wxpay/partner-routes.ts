/**
 * The partner-mode (服务商) endpoints: a service provider signs, and names the sub-merchant in
 * sub_mchid. Prepay under /v3/pay/partner/transactions/{jsapi,app,h5,native}, query and close by
 * sp_mchid + sub_mchid; payment codes under /v3/pay/partner/transactions/codepay and their reverse.
 * The sub-merchant must be authorised under the signing service provider,
 * and sees only its own trades: another sub_mchid finds nothing (ORDER_NOT_EXIST).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiRoutesOptions } from './api-routes.ts';
import type { WxpayGateway } from './gateway.ts';
import type { Merchant } from './merchants.ts';
import { PREPAY_PRODUCTS, prepayAnswer } from './prepay-answer.ts';
import { type SignedRequestContext, signedOperation } from './signed-scope.ts';
import type { Trade } from './trades.ts';
import { invalidField, invalidRequest, missingField, orderNotExist, WxpayWireError } from './wire-errors.ts';
import {
  type CodepayRequest,
  canonicalJson,
  type PrepayRequest,
  parseCodepayRequest,
  parsePrepayRequest,
  type TradeType,
} from './wire-requests.ts';
import { transactionJson } from './wire-views.ts';

type Json = Record<string, unknown>;
type Params = Record<string, string>;
type Query = Record<string, string | undefined>;

function optionalText(source: Json | undefined, key: string, path: string): string | undefined {
  const value = source?.[key];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw invalidField(path, value, '类型错误，应为字符串');
  if ([...value].length > 128) throw invalidField(path, value, '长度超过限制');
  return value;
}

function requiredText(source: Json | undefined, key: string, path: string): string {
  const value = optionalText(source, key, path);
  if (value === undefined) throw missingField(path);
  return value;
}

/** sp_mchid, in the body or the query string, must be the merchant that signed the request. */
function checkSpMchid(serviceProvider: Merchant, spMchid: string): void {
  if (spMchid !== serviceProvider.mchid)
    throw invalidRequest('请求参数中的sp_mchid与请求头Authorization中的mchid不一致', {
      field: 'sp_mchid',
      value: spMchid,
    });
}

/**
 * The owner of the orders and refunds a request is about: the signing merchant, or the
 * sub-merchant it names in sub_mchid (which must be authorised under it).
 */
export function ownerMchid(gateway: WxpayGateway, merchant: Merchant, subMchid: unknown): string {
  if (subMchid === undefined) return merchant.mchid;
  return gateway.subMerchants.authorised(merchant, subMchid).subMchid;
}

/**
 * The parties of a partner request body: the service provider (sp_appid, sp_mchid, the signer) and
 * the sub-merchant (sub_mchid, authorised under it; sub_appid, bound to the sub-merchant).
 */
function partnerParties(gateway: WxpayGateway, body: Json, serviceProvider: Merchant) {
  const spAppid = requiredText(body, 'sp_appid', 'sp_appid');
  const spMchid = requiredText(body, 'sp_mchid', 'sp_mchid');
  const subMchid = requiredText(body, 'sub_mchid', 'sub_mchid');
  const subAppid = optionalText(body, 'sub_appid', 'sub_appid');
  checkSpMchid(serviceProvider, spMchid);
  const subMerchant = gateway.subMerchants.authorised(serviceProvider, subMchid);
  if (subAppid !== undefined && !subMerchant.appids.has(subAppid))
    throw new WxpayWireError(400, 'APPID_MCHID_NOT_MATCH', 'sub_appid和sub_mchid不匹配，请检查后重试', {
      field: 'sub_appid',
      value: subAppid,
    });
  return { spAppid, spMchid, subMchid, subAppid };
}

export function parsePartnerPrepayRequest(
  gateway: WxpayGateway,
  tradeType: TradeType,
  body: Json,
  serviceProvider: Merchant,
): PrepayRequest {
  const { spAppid, spMchid, subMchid, subAppid } = partnerParties(gateway, body, serviceProvider);
  const payerValue = body.payer;
  if (payerValue !== undefined && (typeof payerValue !== 'object' || payerValue === null))
    throw invalidField('payer', payerValue, '类型错误，应为对象');
  const payer = payerValue as Json | undefined;
  if (payer?.openid !== undefined)
    throw invalidField('payer/openid', payer.openid, '服务商模式请使用payer.sp_openid或payer.sub_openid');
  const spOpenid = optionalText(payer, 'sp_openid', 'payer/sp_openid');
  const subOpenid = optionalText(payer, 'sub_openid', 'payer/sub_openid');
  if (subOpenid !== undefined && subAppid === undefined)
    throw invalidRequest('sub_openid有传的情况下，sub_appid必填', { field: 'sub_appid' });
  if (tradeType === 'JSAPI' && spOpenid === undefined && subOpenid === undefined)
    throw missingField('payer/sp_openid');
  const { sp_appid: _a, sp_mchid: _m, sub_appid: _sa, sub_mchid: _sm, payer: _p, ...rest } = body;
  const openid = subOpenid ?? spOpenid;
  // The common fields follow the direct-merchant rules, with the service provider's appid and mchid.
  const direct = parsePrepayRequest(
    tradeType,
    { ...rest, appid: spAppid, mchid: spMchid, ...(openid ? { payer: { openid } } : {}) },
    serviceProvider,
    gateway.runtime.clock.now(),
  );
  return {
    ...direct,
    mchid: subMchid,
    partner: { spMchid, spAppid, subAppid, openidKind: subOpenid !== undefined ? 'sub' : 'sp' },
    fingerprint: canonicalJson({ trade_type: tradeType, ...body }),
  };
}

/**
 * The partner codepay body: the direct-merchant rules for the common fields, with sp_appid/sp_mchid
 * for the service provider and the sub-merchant (and its sub_appid) the trade belongs to.
 */
export function parsePartnerCodepayRequest(
  gateway: WxpayGateway,
  body: Json,
  serviceProvider: Merchant,
): CodepayRequest {
  const { spAppid, spMchid, subMchid, subAppid } = partnerParties(gateway, body, serviceProvider);
  const { sp_appid: _a, sp_mchid: _m, sub_appid: _sa, sub_mchid: _sm, ...rest } = body;
  const direct = parseCodepayRequest({ ...rest, appid: spAppid, mchid: spMchid }, serviceProvider);
  return {
    ...direct,
    mchid: subMchid,
    appid: subAppid ?? spAppid,
    partner: { spMchid, spAppid, subAppid, openidKind: subAppid !== undefined ? 'sub' : 'sp' },
    // The same number again must carry the same content and the same code, as for a direct merchant.
    fingerprint: canonicalJson({
      ...JSON.parse(direct.fingerprint),
      sub_mchid: subMchid,
      sub_appid: subAppid,
    }),
  };
}

/** out_trade_no is unique under the service provider, across its sub-merchants. */
function refuseTakenNumber(
  gateway: WxpayGateway,
  serviceProvider: Merchant,
  outTradeNo: string,
  subMchid: string,
) {
  const taken = gateway.trades
    .all()
    .some(
      (trade) =>
        trade.outTradeNo === outTradeNo &&
        trade.partner?.spMchid === serviceProvider.mchid &&
        trade.mchid !== subMchid,
    );
  if (taken)
    throw invalidRequest('201 商户订单号重复', {
      field: 'out_trade_no',
      value: outTradeNo,
      issue: '同一服务商商户号下商户订单号已被其他子商户使用',
    });
}

/** sp_mchid and sub_mchid of a query string: the sub-merchant whose trades may be read. */
function queriedSubMchid(gateway: WxpayGateway, context: SignedRequestContext, request: FastifyRequest) {
  const query = request.query as Query;
  if (!query.sp_mchid) throw missingField('sp_mchid');
  checkSpMchid(context.merchant, query.sp_mchid);
  return gateway.subMerchants.authorised(context.merchant, query.sub_mchid).subMchid;
}

/** A trade the service provider placed for this sub-merchant; nothing else is visible to it. */
function partnerTrade(trade: Trade | undefined, serviceProvider: Merchant): Trade {
  if (!trade || trade.partner?.spMchid !== serviceProvider.mchid) throw orderNotExist();
  return trade;
}

export function partnerRoutes(scope: FastifyInstance, options: ApiRoutesOptions): void {
  const { gateway } = options;
  for (const { path, tradeType } of PREPAY_PRODUCTS) {
    scope.post(
      `/pay/partner/transactions/${path}`,
      signedOperation(gateway, {
        operation: 'prepay',
        outTradeNo: ({ body }) => (typeof body.out_trade_no === 'string' ? body.out_trade_no : undefined),
        handle: ({ merchant, body }, request) => {
          const prepay = parsePartnerPrepayRequest(gateway, tradeType, body, merchant);
          refuseTakenNumber(gateway, merchant, prepay.outTradeNo, prepay.mchid);
          const trade = gateway.trades.prepay(prepay);
          return prepayAnswer(gateway, options.payerBaseUrl, trade, request);
        },
      }),
    );
  }

  // 付款码支付 for a sub-merchant: SUCCESS at once, or 202 USERPAYING while the buyer confirms.
  scope.post(
    '/pay/partner/transactions/codepay',
    signedOperation(gateway, {
      operation: 'codepay',
      outTradeNo: ({ body }) => (typeof body.out_trade_no === 'string' ? body.out_trade_no : undefined),
      handle: ({ merchant, body }) => {
        const request = parsePartnerCodepayRequest(gateway, body, merchant);
        refuseTakenNumber(gateway, merchant, request.outTradeNo, request.mchid);
        const { trade, confirming } = gateway.trades.codepay(request, gateway.codes);
        if (confirming) return { status: 202, body: { code: 'USERPAYING', message: '需要用户输入支付密码' } };
        return { status: 200, body: transactionJson(trade) };
      },
    }),
  );

  // 撤销 for a sub-merchant: only its own payment-code trades, placed by this service provider.
  scope.post(
    '/pay/partner/transactions/out-trade-no/:outTradeNo/reverse',
    signedOperation(gateway, {
      operation: 'reverse',
      outTradeNo: (_context, request) => (request.params as Params).outTradeNo,
      handle: ({ merchant, body }, request) => {
        checkSpMchid(merchant, requiredText(body, 'sp_mchid', 'sp_mchid'));
        const subMchid = gateway.subMerchants.authorised(merchant, body.sub_mchid).subMchid;
        const outTradeNo = (request.params as Params).outTradeNo!;
        partnerTrade(gateway.trades.find(subMchid, outTradeNo), merchant);
        const trade = gateway.trades.reverse(subMchid, outTradeNo);
        return {
          status: 200,
          body: { sp_mchid: merchant.mchid, sub_mchid: trade.mchid, out_trade_no: trade.outTradeNo },
        };
      },
    }),
  );

  scope.get(
    '/pay/partner/transactions/out-trade-no/:outTradeNo',
    signedOperation(gateway, {
      operation: 'query',
      outTradeNo: (_context, request) => (request.params as Params).outTradeNo,
      handle: (context, request) => {
        const subMchid = queriedSubMchid(gateway, context, request);
        const outTradeNo = (request.params as Params).outTradeNo!;
        const trade = partnerTrade(gateway.trades.find(subMchid, outTradeNo), context.merchant);
        return { status: 200, body: transactionJson(trade) };
      },
    }),
  );

  scope.get(
    '/pay/partner/transactions/id/:transactionId',
    signedOperation(gateway, {
      operation: 'query',
      handle: (context, request) => {
        const subMchid = queriedSubMchid(gateway, context, request);
        const transactionId = (request.params as Params).transactionId!;
        const trade = partnerTrade(
          gateway.trades.findByTransactionId(subMchid, transactionId),
          context.merchant,
        );
        return { status: 200, body: transactionJson(trade) };
      },
    }),
  );

  scope.post(
    '/pay/partner/transactions/out-trade-no/:outTradeNo/close',
    signedOperation(gateway, {
      operation: 'close',
      outTradeNo: (_context, request) => (request.params as Params).outTradeNo,
      handle: ({ merchant, body }, request) => {
        checkSpMchid(merchant, requiredText(body, 'sp_mchid', 'sp_mchid'));
        const subMchid = gateway.subMerchants.authorised(merchant, body.sub_mchid).subMchid;
        const outTradeNo = (request.params as Params).outTradeNo!;
        partnerTrade(gateway.trades.find(subMchid, outTradeNo), merchant);
        gateway.trades.close(subMchid, outTradeNo);
        return { status: 204 };
      },
    }),
  );
}
