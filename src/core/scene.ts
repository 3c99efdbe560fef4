/**
 * Picks the payment scene from the client's context the way merchants of the original plugin know:
 * an explicit scene wins; then a forced QR code; then the platform (mini program, app); then the
 * browser (WeChat's, a phone's, a desktop's).
 */
import type { ProviderName, Scene } from './validate.ts';

export interface ClientContext {
  /** uni-app style platform: mp-weixin, mp-alipay, mp-toutiao (Douyin), app, app-plus, h5, web. */
  platform?: string | undefined;
  userAgent?: string | undefined;
  /** The buyer is on a PC: show a QR code (WeChat) or the PC cashier (Alipay). */
  isPC?: boolean | undefined;
  /** Force a QR code, e.g. for a device or a screen shown to the buyer. */
  needQRcode?: boolean | undefined;
}

const MOBILE_UA = /Android|iPhone|iPad|iPod|Mobile|HarmonyOS/i;
const WECHAT_UA = /MicroMessenger/i;
const ALIPAY_UA = /AlipayClient/i;

export function detectScene(provider: ProviderName, context: ClientContext, explicit?: Scene): Scene {
  if (explicit) return explicit;
  if (context.needQRcode) return 'native';
  const platform = (context.platform ?? '').toLowerCase();
  if (platform === 'mp-weixin' || platform === 'mp-alipay' || platform === 'mp-toutiao') return 'miniprogram';
  // Douyin pays only inside a Douyin mini app: there is no browser or app scene to fall back to.
  if (provider === 'douyin') return 'miniprogram';
  if (platform === 'app' || platform === 'app-plus' || platform === 'app-harmony') return 'app';
  const userAgent = context.userAgent ?? '';
  if (provider === 'wxpay') {
    if (WECHAT_UA.test(userAgent)) return 'jsapi';
    if (context.isPC || !MOBILE_UA.test(userAgent)) return 'native';
    return 'h5';
  }
  if (context.isPC) return 'pc';
  // Alipay's WAP cashier also works inside WeChat's and Alipay's own browsers.
  if (ALIPAY_UA.test(userAgent) || WECHAT_UA.test(userAgent) || MOBILE_UA.test(userAgent)) return 'h5';
  return 'pc';
}
