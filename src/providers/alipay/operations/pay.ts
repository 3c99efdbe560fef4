/**
 * createPayment: one gateway method per scene. page/wap/app payments are only signed here (the
 * browser or the Alipay app carries them to the gateway); precreate and create are calls.
 */
import { PayError } from '../../../core/errors.ts';
import { fenToYuan } from '../../../core/money.ts';
import type { CreatedPayment, PaymentOrder } from '../../provider.ts';
import type { AlipayContext } from '../context.ts';
import { autoSubmitForm, orderString, pageUrl, signedParams } from '../request.ts';
import { beijingTime } from '../sign.ts';
import { BAR_CODE_PRODUCT, barCodePay } from './bar-code.ts';
import { createMiniProgramTrade } from './create.ts';
import { precreate } from './precreate.ts';

interface SceneMethod {
  method: string;
  productCode: string;
}

export const SCENE_METHODS: Readonly<Record<string, SceneMethod>> = {
  pc: { method: 'alipay.trade.page.pay', productCode: 'FAST_INSTANT_TRADE_PAY' },
  h5: { method: 'alipay.trade.wap.pay', productCode: 'QUICK_WAP_WAY' },
  app: { method: 'alipay.trade.app.pay', productCode: 'QUICK_MSECURITY_PAY' },
  native: { method: 'alipay.trade.precreate', productCode: 'FACE_TO_FACE_PAYMENT' },
  miniprogram: { method: 'alipay.trade.create', productCode: 'JSAPI_PAY' },
  micropay: { method: 'alipay.trade.pay', productCode: BAR_CODE_PRODUCT },
};

export function sceneMethod(scene: string): SceneMethod {
  const found = SCENE_METHODS[scene];
  if (!found) {
    throw new PayError(40001, {
      field: 'scene',
      message: `alipay has no ${JSON.stringify(String(scene).slice(0, 32))} scene (use pc, h5, app, native, miniprogram or micropay)`,
    });
  }
  return found;
}

/** The trade fields every scene shares. `other` may add fields or change product_code, not the amount. */
export function orderBizContent(order: PaymentOrder, productCode: string): Record<string, unknown> {
  const biz: Record<string, unknown> = {
    product_code: productCode,
    ...order.other,
    out_trade_no: order.outTradeNo,
    total_amount: fenToYuan(order.totalFen),
    subject: order.subject,
  };
  if (order.expireAt) biz.time_expire = beijingTime(order.expireAt.getTime());
  // Kept frozen after payment until split or unfrozen (alipay.trade.order.settle).
  if (order.profitSharing) {
    const extend = biz.extend_params;
    biz.extend_params = {
      ...(typeof extend === 'object' && extend !== null ? extend : {}),
      royalty_freeze: 'true',
    };
  }
  return biz;
}

export async function createPayment(context: AlipayContext, order: PaymentOrder): Promise<CreatedPayment> {
  const { method, productCode } = sceneMethod(order.scene);
  const biz = orderBizContent(order, productCode);
  if (order.scene === 'native') return precreate(context, order, biz);
  if (order.scene === 'miniprogram') return createMiniProgramTrade(context, order, biz);
  if (order.scene === 'micropay') return barCodePay(context, order, biz);
  const { merchant } = context;
  const browser = order.scene === 'pc' || order.scene === 'h5';
  const params = signedParams(
    merchant,
    method,
    biz,
    { notifyUrl: order.notifyUrl, returnUrl: browser ? order.returnUrl : null },
    context.now(),
  );
  // The signed parameters hold no secret (the signature is public once sent), so they are the raw.
  const raw = { method, params };
  if (order.scene === 'app') return { client: { scene: 'app', orderString: orderString(params) }, raw };
  return {
    client: {
      scene: order.scene as 'pc' | 'h5',
      payUrl: pageUrl(merchant.gatewayUrl, params),
      form: autoSubmitForm(merchant.gatewayUrl, params),
    },
    raw,
  };
}
