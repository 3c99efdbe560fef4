/**
 * Picks the payment scene from the client's context the way merchants of the original plugin know:
 * an explicit scene wins; then a forced QR code; then the platform (mini program, app); then the
 * browser (WeChat's, a phone's, a desktop's).
 */
import { PayError } from './errors.ts';
import type { ProviderName, Scene } from './validate.ts';

export interface ClientContext {
  /** uni-app style platform: mp-weixin, mp-alipay, mp-toutiao (Douyin), app, app-plus, h5, web. */
  platform?: string | undefined;
  userAgent?: string | undefined;
  /** The buyer is on a PC: show a QR code (WeChat) or the PC cashier (Alipay). */
  isPC?: boolean | undefined;
  /** Force a QR code, e.g. for a device or a screen shown to the buyer. */
  needQRcode?: boolean | undefined;
  /** The device's system as the app reports it (uni-app's `osName`): ios, android, harmonyos. */
  os?: string | undefined;
}

const MOBILE_UA = /Android|iPhone|iPad|iPod|Mobile|HarmonyOS/i;
const WECHAT_UA = /MicroMessenger/i;
const ALIPAY_UA = /AlipayClient/i;

const IOS_UA = /iPhone|iPad|iPod|\biOS\b|CFNetwork\/.*Darwin/i;
const APP_PLATFORMS = new Set(['app', 'app-plus']);

/** Inside an app on iOS: an app platform, and `os: ios` or an iOS user agent. */
export function isIosApp(context: ClientContext): boolean {
  if (!APP_PLATFORMS.has((context.platform ?? '').toLowerCase())) return false;
  if (context.os !== undefined) return context.os.toLowerCase() === 'ios';
  return IOS_UA.test(context.userAgent ?? '');
}

/**
 * Apple in-app purchases are made with StoreKit, inside an iOS app only: the scene is `app`. The
 * client's word decides when it gives one (platform, os); a server calling for the app may instead
 * name the `app` scene itself.
 */
function appleIapScene(context: ClientContext, explicit?: Scene): Scene {
  if (explicit !== undefined && explicit !== 'app')
    throw new PayError(40001, { field: 'scene', message: 'appleiap payments take the app scene only' });
  const described = context.platform !== undefined || context.os !== undefined;
  if ((described || explicit === undefined) && !isIosApp(context))
    throw new PayError(40001, {
      field: 'provider',
      message: 'Apple in-app purchase is offered only inside an iOS app (context.platform app with os ios)',
    });
  return 'app';
}

export function detectScene(provider: ProviderName, context: ClientContext, explicit?: Scene): Scene {
  if (provider === 'appleiap') return appleIapScene(context, explicit);
  if (explicit) return explicit;
  // WeChat's virtual payment exists in its mini programs only; the provider refuses other platforms.
  if (provider === 'wxpay-virtual') return 'miniprogram';
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
