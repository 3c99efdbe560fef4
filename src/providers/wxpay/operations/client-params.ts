/**
 * The parameters the payer's client needs to invoke a created payment. JSAPI/mini program and APP
 * parameters are signed with the merchant private key (paySign / sign); H5 and native are URLs.
 */
import type { ClientPayParams } from '../../provider.ts';
import type { WxpayMerchant, WxpayScene } from '../config.ts';
import { appPayMessage, createNonce, jsapiPayMessage, rsaSign } from '../sign.ts';
import type { PrepayResponseWire } from '../wire.ts';

export function clientPayParams(
  merchant: WxpayMerchant,
  scene: WxpayScene,
  appId: string,
  prepay: PrepayResponseWire,
  nowMs: number,
  /** APP's partnerid: the mchid, or the sub_mchid in partner mode. */
  partnerId: string = merchant.mchId,
): ClientPayParams {
  const timestamp = String(Math.floor(nowMs / 1000));
  const nonce = createNonce();
  switch (scene) {
    case 'jsapi':
    case 'miniprogram': {
      const pkg = `prepay_id=${prepay.prepay_id}`;
      return {
        scene,
        appId,
        timeStamp: timestamp,
        nonceStr: nonce,
        package: pkg,
        signType: 'RSA',
        paySign: rsaSign(jsapiPayMessage(appId, timestamp, nonce, pkg), merchant.privateKey),
      };
    }
    case 'app':
      return {
        scene,
        appid: appId,
        partnerid: partnerId,
        prepayid: prepay.prepay_id!,
        package: 'Sign=WXPay',
        noncestr: nonce,
        timestamp,
        sign: rsaSign(appPayMessage(appId, timestamp, nonce, prepay.prepay_id!), merchant.privateKey),
      };
    case 'h5':
      return { scene, h5Url: prepay.h5_url! };
    case 'native':
      return { scene, codeUrl: prepay.code_url! };
  }
}
