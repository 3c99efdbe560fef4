/**
 * The arguments of wx.requestVirtualPayment for one order: signData (what is bought, at what unit
 * price, for which order), paySig with the AppKey and signature with the buyer's session_key. The
 * session_key is used here and dropped: it is never stored, logged or answered.
 */
import type { ClientPayParams } from '../../core/client-params.ts';
import { PayError } from '../../core/errors.ts';
import type { PaymentOrder } from '../provider.ts';
import type { WxpayVirtualMerchant } from './config.ts';
import { paySigOf, userSignatureOf } from './sign.ts';
import type { SignData, VirtualPayMode } from './wire.ts';

/** WeChat's outTradeNo: 8 to 32 of letters, digits, _-|*@, not starting with _. */
const VIRTUAL_TRADE_NO = /^(?!_)[0-9A-Za-z_\-|*@]{8,32}$/;
const SESSION_KEY = /^[A-Za-z0-9+/]{22}==$/;
/** A mini program on an iPhone or iPad: WeChat's user agent there names the device. */
const IOS_USER_AGENT = /iPhone|iPad|iPod/;

const param = (field: string, message: string) => new PayError(40001, { field, message });

export function virtualPaymentParams(
  merchant: WxpayVirtualMerchant,
  order: PaymentOrder,
): Extract<ClientPayParams, { signData: string }> {
  if (order.scene !== 'miniprogram')
    throw param('scene', 'wxpay-virtual pays in WeChat mini programs only (scene miniprogram)');
  if (order.platform && order.platform.toLowerCase() !== 'mp-weixin')
    throw param('context.platform', 'wxpay-virtual pays in WeChat mini programs only (platform mp-weixin)');
  if (!merchant.allowIos && IOS_USER_AGENT.test(order.userAgent ?? ''))
    throw new PayError(40009, {
      field: 'context.userAgent',
      message: "WeChat does not offer virtual payment on iOS for this mini program's category",
    });
  if (!VIRTUAL_TRADE_NO.test(order.outTradeNo))
    throw param(
      'out_trade_no',
      'wxpay-virtual needs out_trade_no of 8 to 32 characters, not starting with _',
    );
  if (!order.openid) throw param('openid', 'openid is required: the buyer of the mini program');
  const sessionKey = order.sessionKey;
  if (typeof sessionKey !== 'string' || !SESSION_KEY.test(sessionKey))
    throw param('session_key', "session_key is required: the buyer's session_key from code2Session");
  const other = order.other ?? {};
  const mode = (other.mode ?? 'short_series_goods') as VirtualPayMode;
  const attach = other.attach === undefined ? '' : other.attach;
  if (typeof attach !== 'string' || attach.length > 128)
    throw param('other.attach', 'other.attach must be a string of at most 128 characters');
  const base = {
    offerId: merchant.offerId,
    env: merchant.env,
    currencyType: 'CNY' as const,
    platform: merchant.platform,
    outTradeNo: order.outTradeNo,
    attach,
  };
  let signData: SignData;
  if (mode === 'short_series_goods') {
    const productId = other.productId;
    if (typeof productId !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(productId))
      throw param('other.productId', 'other.productId must name the product (道具) bought');
    const buyQuantity = other.buyQuantity ?? 1;
    if (!Number.isSafeInteger(buyQuantity) || (buyQuantity as number) < 1)
      throw param('other.buyQuantity', 'other.buyQuantity must be a positive integer');
    const quantity = buyQuantity as number;
    if (order.totalFen % quantity !== 0)
      throw param('total_fee', `total_fee ${order.totalFen} is not ${quantity} times a unit price`);
    const goodsPrice = order.totalFen / quantity;
    const listed = merchant.products.get(productId);
    if (merchant.products.size > 0 && listed === undefined)
      throw param('other.productId', `product ${productId} is not configured`);
    if (listed !== undefined && listed !== goodsPrice)
      throw param('total_fee', `product ${productId} costs ${listed} fen a unit, not ${goodsPrice}`);
    // The key order WeChat's documentation shows; the signatures cover this exact text.
    signData = {
      offerId: base.offerId,
      buyQuantity: quantity,
      env: base.env,
      currencyType: base.currencyType,
      platform: base.platform,
      productId,
      goodsPrice,
      outTradeNo: base.outTradeNo,
      attach,
    };
  } else if (mode === 'short_series_coin') {
    const coinPrice = merchant.coinPriceFen;
    if (coinPrice === null) throw param('other.mode', 'this account sells no coins (coinPriceFen unset)');
    if (order.totalFen % coinPrice !== 0)
      throw param('total_fee', `total_fee must be a whole number of coins of ${coinPrice} fen`);
    signData = {
      offerId: base.offerId,
      buyQuantity: order.totalFen / coinPrice,
      env: base.env,
      currencyType: base.currencyType,
      platform: base.platform,
      outTradeNo: base.outTradeNo,
      attach,
    };
  } else {
    throw param('other.mode', 'other.mode must be short_series_goods or short_series_coin');
  }
  const text = JSON.stringify(signData);
  return {
    scene: 'miniprogram',
    mode,
    signData: text,
    paySig: paySigOf(merchant.appKey, text),
    signature: userSignatureOf(sessionKey, text),
  };
}
