/**
 * Payment codes (付款码): the counter scans the buyer's code and sends it with
 * `POST /v3/pay/transactions/codepay`; WeChat answers with the payment itself (SUCCESS), or says
 * the buyer is confirming (USERPAYING, a password), or refuses the code. An unconfirmed payment is
 * reversed with `POST /v3/pay/transactions/out-trade-no/{out_trade_no}/reverse`, which closes it,
 * or refunds it when the buyer paid meanwhile. In partner mode (服务商) the same calls go to
 * `/v3/pay/partner/transactions/codepay` and `.../partner/transactions/out-trade-no/{}/reverse`,
 * signed by the service provider and naming the sub-merchant. The code itself goes into the request
 * body only: never into a path, an error, a log or the result.
 */
import { PayError, type PaymentCodeRefusal, paymentCodeRefused } from '../../../core/errors.ts';
import type { CreatedPayment, PaymentOrder, PaymentResult } from '../../provider.ts';
import { segment, type WxpayContext } from '../context.ts';
import { canonicalWxpayCode } from '../errors.ts';
import type { CodepayRequestWire, TransactionWire } from '../wire.ts';
import { settleInfo } from './prepay.ts';
import { toPaymentResult } from './results.ts';

const DESCRIPTION_MAX = 127;

/** The gateway's refusals of a code, by their canonical spelling, in words for the counter. */
const REFUSALS: Readonly<Record<string, PaymentCodeRefusal>> = {
  AUTH_CODE_INVALID: 'code_invalid',
  AUTH_CODE_ERROR: 'code_invalid',
  AUTH_CODE_EXPIRE: 'code_invalid',
  NOT_ENOUGH: 'insufficient_balance',
  ACCOUNT_ERROR: 'buyer_cannot_pay',
  USER_ACCOUNT_ABNORMAL: 'buyer_cannot_pay',
  TRADE_ERROR: 'buyer_cannot_pay',
};
/** WeChat's own misspelling (NOTSUPORTCARD) and the right one: a card the merchant cannot take. */
const CARD_NOT_SUPPORTED = /^NOTSUP+ORTCARD$/;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * The codepay body. WeChat requires scene_info with the store (store_info.out_id): the merchant's
 * `other.scene_info` is kept, and without a store id the account's configured one, else `default`.
 */
export function codepayRequest(context: WxpayContext, order: PaymentOrder): CodepayRequestWire {
  if (!order.authCode) {
    throw new PayError(40001, { field: 'auth_code', message: "a micropay needs the buyer's payment code" });
  }
  const other = order.other ?? {};
  const sceneInfo = isPlainObject(other.scene_info) ? other.scene_info : {};
  const storeInfo = isPlainObject(sceneInfo.store_info) ? sceneInfo.store_info : {};
  const { partner } = context;
  // A sub-merchant's payment: the service provider's ids, the sub-merchant's, and its sub_appid when it has one.
  const parties = partner
    ? {
        sp_appid: context.merchant.appId,
        sp_mchid: partner.spMchId,
        ...(partner.subAppId ? { sub_appid: partner.subAppId } : {}),
        sub_mchid: partner.subMchId,
      }
    : { appid: context.merchant.appId, mchid: context.merchant.mchId };
  return {
    ...other,
    ...parties,
    description: Array.from(order.subject).slice(0, DESCRIPTION_MAX).join(''),
    out_trade_no: order.outTradeNo,
    payer: { auth_code: order.authCode },
    amount: { total: order.totalFen, currency: 'CNY' },
    ...(order.profitSharing ? { settle_info: settleInfo(other) } : {}),
    scene_info: {
      ...sceneInfo,
      ...(order.clientIp && typeof sceneInfo.device_ip !== 'string' ? { device_ip: order.clientIp } : {}),
      store_info: {
        ...storeInfo,
        out_id: typeof storeInfo.out_id === 'string' ? storeInfo.out_id : 'default',
      },
    },
  };
}

/** An error about the call without anything the buyer's code could be echoed in (detail.value). */
function withoutCode(error: PayError, authCode: string): PayError {
  const scrub = (text: string) => text.split(authCode).join('[auth_code]');
  const details = JSON.parse(scrub(JSON.stringify(error.details ?? null)));
  const code = error.gatewayCode ? (canonicalWxpayCode(error.gatewayCode) ?? error.gatewayCode) : '';
  const refusal = REFUSALS[code] ?? (CARD_NOT_SUPPORTED.test(code) ? 'buyer_cannot_pay' : undefined);
  if (refusal) {
    return paymentCodeRefused(refusal, {
      gatewayCode: error.gatewayCode ?? code,
      message: scrub(error.message),
      details,
    });
  }
  return new PayError(error.code, {
    ...(error.field ? { field: error.field } : {}),
    ...(error.gatewayCode ? { gatewayCode: error.gatewayCode } : {}),
    message: scrub(error.message),
    details,
    outcomeUnknown: error.outcomeUnknown,
  });
}

/**
 * Sends the code. SUCCESS and USERPAYING come back as the result (USERPAYING may be a bare
 * `{"trade_state":"USERPAYING"}`, or a 202 whose body says `code: USERPAYING`); a refusal is a
 * PayError with words for the counter; a 5xx or a timeout is outcomeUnknown (the buyer may have
 * paid: query, then reverse).
 */
export async function createCodepay(context: WxpayContext, order: PaymentOrder): Promise<CreatedPayment> {
  const request = codepayRequest(context, order);
  const authCode = request.payer.auth_code;
  let reply: Awaited<ReturnType<typeof context.transport.call<TransactionWire & { code?: string }>>>;
  try {
    reply = await context.transport.call<TransactionWire & { code?: string }>({
      api: context.partner ? 'partner.codepay' : 'codepay',
      method: 'POST',
      path: context.partner ? '/v3/pay/partner/transactions/codepay' : '/v3/pay/transactions/codepay',
      body: request,
      write: true,
    });
  } catch (error) {
    if (!(error instanceof PayError)) throw error;
    const canonical = error.gatewayCode ? canonicalWxpayCode(error.gatewayCode) : null;
    // USERPAYING as an error answer (some pages list it with the errors): the buyer is confirming.
    if (error.gatewayCode?.toUpperCase() === 'USERPAYING' && canonical === null) {
      return { client: { scene: 'micropay' }, result: confirming(context, order, null), raw: null };
    }
    throw withoutCode(error, authCode);
  }
  const answer = reply.data;
  const state = answer?.trade_state ?? (answer?.code === 'USERPAYING' ? 'USERPAYING' : undefined);
  if (state === 'USERPAYING' || reply.status === 202) {
    return { client: { scene: 'micropay' }, result: confirming(context, order, answer), raw: answer };
  }
  const result = toPaymentResult(answer, {
    merchantId: order.merchantId,
    source: 'query',
    ...(context.partner ? { partner: true } : {}),
  });
  if (result.outTradeNo !== order.outTradeNo || (result.mchId && result.mchId !== ownMchId(context))) {
    throw new PayError(50000, {
      field: 'out_trade_no',
      gatewayCode: 'MALFORMED_RESPONSE',
      message: `wxpay codepay answered about ${result.outTradeNo} of ${result.mchId ?? '?'}, not ${order.outTradeNo}`,
      outcomeUnknown: true,
    });
  }
  return { client: { scene: 'micropay' }, prepayId: null, result, raw: answer };
}

/** Whose orders these are: the merchant's, or in partner mode the sub-merchant's (sub_mchid). */
function ownMchId(context: WxpayContext): string {
  return context.partner ? context.partner.subMchId : context.merchant.mchId;
}

/** USERPAYING carries no amount or ids: the result is this order's, still unpaid. */
function confirming(context: WxpayContext, order: PaymentOrder, raw: unknown): PaymentResult {
  return {
    merchantId: order.merchantId,
    provider: 'wxpay',
    outTradeNo: order.outTradeNo,
    transactionId: null,
    amountFen: order.totalFen,
    status: 'USERPAYING',
    mchId: ownMchId(context),
    appId: null,
    source: 'query',
    raw: raw ?? { trade_state: 'USERPAYING' },
  };
}

/**
 * Reverses the payment: 200 with the order's ids (or 204) is done. An order WeChat never had
 * (ORDER_NOT_EXIST: the code was refused before a trade existed) and one already reversed or closed
 * count as done too. SYSTEM_ERROR and USERPAYING ask for the same call again: `retry`.
 */
export async function reverseCodepay(
  context: WxpayContext,
  query: { outTradeNo: string },
): Promise<'reversed' | 'retry'> {
  try {
    const { partner } = context;
    await context.transport.call(
      partner
        ? {
            api: 'partner.reverse',
            method: 'POST',
            path: `/v3/pay/partner/transactions/out-trade-no/${segment(query.outTradeNo)}/reverse`,
            body: { sp_mchid: partner.spMchId, sub_mchid: partner.subMchId },
            write: true,
          }
        : {
            api: 'reverse',
            method: 'POST',
            path: `/v3/pay/transactions/out-trade-no/${segment(query.outTradeNo)}/reverse`,
            body: { appid: context.merchant.appId, mchid: context.merchant.mchId },
            write: true,
          },
    );
    return 'reversed';
  } catch (error) {
    if (!(error instanceof PayError) || !error.gatewayCode) throw error;
    const canonical = canonicalWxpayCode(error.gatewayCode);
    if (canonical === 'ORDER_NOT_EXIST' || canonical === 'ORDER_CLOSED' || canonical === 'ORDER_REVERSED')
      return 'reversed';
    if (error.gatewayCode.toUpperCase() === 'USERPAYING' || error.retryable) return 'retry';
    throw error;
  }
}
