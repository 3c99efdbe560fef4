/**
 * Which providers the cashier offers on the buyer's device, each with the scene it will use:
 * no WeChat Pay inside Alipay's app, no Alipay inside WeChat's browser unless the merchant asked,
 * a QR code for WeChat Pay on a desktop, WeChat H5 only on a phone outside WeChat.
 */
import { detectScene } from '../core/scene.ts';
import type { CheckoutProviderName as ProviderName, Scene } from '../core/validate.ts';
import type { Provider } from '../providers/provider.ts';
import type { CheckoutClaims } from './checkout-token.ts';

export type Device = 'wechat' | 'alipay' | 'mobile' | 'desktop';

export interface ProviderOffer {
  provider: ProviderName;
  scene: Scene;
}

const MOBILE_UA = /Android|iPhone|iPad|iPod|Mobile|HarmonyOS/i;

export function deviceOf(userAgent: string | undefined): Device {
  const ua = userAgent ?? '';
  if (/MicroMessenger/i.test(ua)) return 'wechat';
  if (/AlipayClient/i.test(ua)) return 'alipay';
  return MOBILE_UA.test(ua) ? 'mobile' : 'desktop';
}

function sceneFor(
  provider: ProviderName,
  device: Device,
  userAgent: string,
  claims: CheckoutClaims,
): Scene | null {
  if (provider === 'wxpay') {
    if (device === 'alipay') return null;
    // JSAPI needs the payer's openid; without it, a QR code the payer can long-press still works.
    if (device === 'wechat') return claims.w ? 'jsapi' : 'native';
    return detectScene('wxpay', { userAgent });
  }
  if (device === 'wechat' && !claims.a) return null;
  return detectScene('alipay', { userAgent });
}

/** The offers for this buyer: allowed by the token, configured for the merchant, fit for the device. */
export function offersFor(
  claims: CheckoutClaims,
  userAgent: string | undefined,
  providers: ReadonlyMap<string, Provider>,
): ProviderOffer[] {
  const device = deviceOf(userAgent);
  const offers: ProviderOffer[] = [];
  for (const name of claims.p) {
    const scene = sceneFor(name, device, userAgent ?? '', claims);
    const provider = providers.get(name);
    if (!scene || !provider) continue;
    try {
      provider.identity(claims.m, scene);
    } catch {
      continue; // the merchant has no account at this gateway for this scene
    }
    offers.push({ provider: name, scene });
  }
  return offers;
}
