/**
 * Create a payment (prepay) for one scene: JSAPI and mini program (payer.openid), APP, H5
 * (scene_info.payer_client_ip, h5_info) and native (code_url). Writes: a timeout is outcomeUnknown,
 * and sending the same out_trade_no again with the same fields is safe at WeChat.
 */
import { PayError } from '../../../core/errors.ts';
import type { CreatedPayment, PaymentOrder } from '../../provider.ts';
import { appIdFor, WXPAY_SCENES, type WxpayMerchant, type WxpayScene } from '../config.ts';
import type { WxpayContext } from '../context.ts';
import { partnerAppIdFor, subAppIdFor, type WxpayPartner } from '../partner.ts';
import type { PrepayRequestWire, PrepayResponseWire } from '../wire.ts';
import { clientPayParams } from './client-params.ts';

const PREPAY_PATH: Readonly<Record<WxpayScene, string>> = {
  jsapi: '/v3/pay/transactions/jsapi',
  miniprogram: '/v3/pay/transactions/jsapi',
  app: '/v3/pay/transactions/app',
  h5: '/v3/pay/transactions/h5',
  native: '/v3/pay/transactions/native',
};

/** Partner mode: the same products under /v3/pay/partner/transactions. */
const PARTNER_PREPAY_PATH: Readonly<Record<WxpayScene, string>> = {
  jsapi: '/v3/pay/partner/transactions/jsapi',
  miniprogram: '/v3/pay/partner/transactions/jsapi',
  app: '/v3/pay/partner/transactions/app',
  h5: '/v3/pay/partner/transactions/h5',
  native: '/v3/pay/partner/transactions/native',
};

/** The field of the prepay answer each scene needs. */
const ANSWER_FIELD: Readonly<Record<WxpayScene, keyof PrepayResponseWire>> = {
  jsapi: 'prepay_id',
  miniprogram: 'prepay_id',
  app: 'prepay_id',
  h5: 'h5_url',
  native: 'code_url',
};

const DESCRIPTION_MAX = 127;

export function wxpayScene(scene: string): WxpayScene {
  if (!(WXPAY_SCENES as readonly string[]).includes(scene)) {
    throw new PayError(40001, {
      field: 'scene',
      message: `wxpay does not support scene ${JSON.stringify(scene)}; use one of ${WXPAY_SCENES.join(', ')}`,
    });
  }
  return scene as WxpayScene;
}

/** RFC 3339 in Beijing time, the form WeChat documents (2018-06-08T10:34:56+08:00). */
export function beijingTime(date: Date): string {
  const shifted = new Date(date.getTime() + 8 * 3600_000);
  return `${shifted.toISOString().slice(0, 19)}+08:00`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Funds kept frozen for splitting (分账) after payment; the merchant's other settle_info fields stay. */
export function settleInfo(other: Record<string, unknown>): Record<string, unknown> {
  return { ...(isPlainObject(other.settle_info) ? other.settle_info : {}), profit_sharing: true };
}

export function prepayRequest(
  merchant: WxpayMerchant,
  order: PaymentOrder,
  scene: WxpayScene,
): PrepayRequestWire {
  const other = order.other ?? {};
  // Extra gateway fields pass through, but never over the fields this mapping owns.
  const body: PrepayRequestWire = {
    ...other,
    appid: appIdFor(merchant, scene),
    mchid: merchant.mchId,
    description: Array.from(order.subject).slice(0, DESCRIPTION_MAX).join(''),
    out_trade_no: order.outTradeNo,
    notify_url: order.notifyUrl,
    amount: { total: order.totalFen, currency: 'CNY' },
  };
  if (order.expireAt) body.time_expire = beijingTime(order.expireAt);
  if (order.profitSharing) body.settle_info = settleInfo(other);
  if (scene === 'jsapi' || scene === 'miniprogram') {
    if (!order.openid) {
      throw new PayError(40001, {
        field: 'openid',
        message: `wxpay ${scene} payments need the payer's openid`,
      });
    }
    body.payer = { openid: order.openid };
  }
  if (scene === 'h5') {
    if (!order.clientIp) {
      throw new PayError(40001, {
        field: 'clientIp',
        message: "wxpay h5 payments need the payer's IP address",
      });
    }
    const sceneInfo = isPlainObject(other.scene_info) ? other.scene_info : {};
    const h5Info = isPlainObject(sceneInfo.h5_info) ? sceneInfo.h5_info : {};
    body.scene_info = {
      ...sceneInfo,
      payer_client_ip: order.clientIp,
      h5_info: { ...h5Info, type: typeof h5Info.type === 'string' ? h5Info.type : 'Wap' },
    };
  } else if (order.clientIp && !isPlainObject(other.scene_info)) {
    body.scene_info = { payer_client_ip: order.clientIp };
  }
  return body;
}

/**
 * The partner body: sp_appid/sp_mchid for the service provider, sub_mchid (and sub_appid when the
 * sub-merchant has one) for whom the payment is, and the payer's openid as sub_openid under the
 * sub_appid, or sp_openid under the sp_appid.
 */
export function partnerPrepayRequest(
  merchant: WxpayMerchant,
  partner: WxpayPartner,
  order: PaymentOrder,
  scene: WxpayScene,
): Record<string, unknown> {
  const { appid, mchid, payer, ...rest } = prepayRequest(merchant, order, scene);
  const subAppId = subAppIdFor(partner, scene);
  return {
    ...rest,
    sp_appid: appid,
    sp_mchid: mchid,
    ...(subAppId ? { sub_appid: subAppId } : {}),
    sub_mchid: partner.subMchId,
    ...(payer ? { payer: subAppId ? { sub_openid: payer.openid } : { sp_openid: payer.openid } } : {}),
  };
}

export async function createPayment(context: WxpayContext, order: PaymentOrder): Promise<CreatedPayment> {
  const scene = wxpayScene(order.scene);
  const { partner } = context;
  const request = partner
    ? partnerPrepayRequest(context.merchant, partner, order, scene)
    : prepayRequest(context.merchant, order, scene);
  const reply = await context.transport.call<PrepayResponseWire>({
    api: partner ? `partner.prepay.${scene}` : `prepay.${scene}`,
    method: 'POST',
    path: partner ? PARTNER_PREPAY_PATH[scene] : PREPAY_PATH[scene],
    body: request,
    write: true,
  });
  const answer = reply.data;
  const field = ANSWER_FIELD[scene];
  if (!answer || typeof answer[field] !== 'string' || answer[field] === '') {
    throw new PayError(50000, {
      field,
      gatewayCode: 'MALFORMED_RESPONSE',
      message: `wxpay prepay.${scene} answer lacks ${field}`,
      details: { provider: 'wxpay', requestId: reply.requestId },
      // The order may exist at WeChat: a later prepay with the same fields returns it again.
      outcomeUnknown: true,
    });
  }
  return {
    // The client invokes payment with the appid the order is under, signed by whoever holds the key.
    client: partner
      ? clientPayParams(
          context.merchant,
          scene,
          partnerAppIdFor(context.merchant, partner, scene),
          answer,
          context.now(),
          partner.subMchId,
        )
      : clientPayParams(context.merchant, scene, appIdFor(context.merchant, scene), answer, context.now()),
    prepayId: answer.prepay_id ?? null,
    raw: answer,
  };
}
