/**
 * vk-pay-client for uni-app (uni_modules/vk-pay-client): the shared client core over `uni.request`,
 * the client context read from the platform the way vk-uni-pay does (uniPlatform, isPC, osName),
 * and one `pay()` that runs the platform's payment: `uni.requestPayment` with the parameters each
 * platform takes, WeixinJSBridge and redirects in a browser, the QR code's content on a PC.
 */

import type { ProviderName } from '../../core/validate.ts';
import { proceed, type WindowLike, type WxLike } from '../../web/next-step.ts';
import {
  type BackendEndpoints,
  createCoreClient,
  type VkPayClient,
  type WaitOptions,
} from '../core/client.ts';
import { isSuccess, type Lang } from '../core/errors.ts';
import {
  type CallbackRequest,
  callbackRequestFunction,
  invoke,
  type MiniPayRequest,
  payOnPlatform,
} from '../core/mini.ts';
import {
  type PayResult,
  type PlatformAnswer,
  type PlatformKind,
  payResult,
  platformResult,
} from '../core/pay-result.ts';
import type { PaymentStart } from '../core/types.ts';

type Api = (options: Record<string, unknown>) => unknown;

/** The little of `uni` the client uses. */
export interface UniLike {
  request: CallbackRequest;
  requestPayment?: Api;
  getSystemInfoSync(): UniSystemInfo;
  /** WeChat mini program virtual payment (uni-app hands unknown APIs to `wx` there). */
  requestVirtualPayment?: Api;
  /** Douyin's trade system, where uni-app hands them to `tt`. */
  requestOrder?: Api;
  getOrderPayment?: Api;
}

export interface UniSystemInfo {
  /** app, web, mp-weixin, mp-alipay, mp-toutiao, ... (HBuilderX 3.4+). */
  uniPlatform?: string;
  /** android, ios, harmonyos, windows, macos, linux. */
  osName?: string;
  /** phone, pad, pc. */
  deviceType?: string;
  /** The user agent (web). */
  ua?: string;
  /** The device's system (older uni-app): android, ios, windows, mac, devtools. */
  platform?: string;
}

/** The client context VK-Pay's createPayment takes, and the plugin's isPC beside it. */
export interface UniContext {
  platform: string;
  os?: string;
  userAgent?: string;
  isPC: boolean;
}

export interface UniClientOptions {
  /** The merchant backend's endpoints (full URLs: a mini program has no page origin). */
  backend?: BackendEndpoints;
  /** The VK-Pay service, for checkout-token calls. */
  baseUrl?: string;
  lang?: Lang;
  /** Per-request timeout for uni.request, ms (default the platform's). */
  timeoutMs?: number;
  /** Defaults to the global `uni`; pass the page's `uni` on uni-app's web platform (H5), tests a recorded one. */
  uni?: UniLike;
}

export interface UniPayOptions {
  /** Where the WeChat H5 page returns the buyer (its redirect_url), in a browser. */
  returnUrl?: string;
  /**
   * After the platform's answer, wait for the service's word (waitForPayment) before answering:
   * `true` with the default backoff, or its options. Off by default: the page may wait itself.
   */
  confirm?: boolean | WaitOptions;
  /** WeChat virtual payment on iOS: WeChat forbids it for most categories; refused unless true. */
  allowIos?: boolean;
  /** Defaults to the global window (uni-app's web platform). */
  window?: WindowLike;
}

/** A payment to run: created here (checkout token or backend body), or one already created. */
export type UniPayRequest = MiniPayRequest;

export interface UniPayClient extends VkPayClient {
  /** The client context from uni.getSystemInfoSync(), as the plugin reads it. */
  context(): UniContext;
  /** The providers that can pay on this platform, for a cashier to offer (see providersFor). */
  providers(): ProviderName[];
  /** Creates (unless given) and runs the payment on this platform; never throws. */
  pay(request: UniPayRequest, options?: UniPayOptions): Promise<PayResult>;
}

const PC_SYSTEMS = new Set(['windows', 'macos', 'mac', 'linux']);
const BROWSER_PLATFORMS = new Set(['web', 'h5']);

/** uniPlatform, isPC (a browser on a PC: deviceType pc or a desktop system), osName and the UA. */
export function uniContext(uni: UniLike): UniContext {
  let info: UniSystemInfo = {};
  try {
    info = uni.getSystemInfoSync() ?? {};
  } catch {
    // Not in uni-app: an empty context, the service detects from the user agent.
  }
  const platform = info.uniPlatform ?? 'web';
  const os = (info.osName ?? info.platform)?.toLowerCase();
  const isPC =
    BROWSER_PLATFORMS.has(platform) && (info.deviceType === 'pc' || (os !== undefined && PC_SYSTEMS.has(os)));
  return {
    platform,
    ...(os ? { os } : {}),
    ...(info.ua ? { userAgent: info.ua } : {}),
    isPC,
  };
}

/**
 * The providers that can pay in a context, as the plugin's cashier offers them: WeChat's (and its
 * virtual payment) in a WeChat mini program, Alipay in Alipay's, Douyin in Douyin's; in an app
 * WeChat Pay and Alipay, plus Apple IAP on iOS; in a browser WeChat Pay and Alipay (Alipay's WAP
 * cashier also opens inside WeChat's browser).
 */
export function providersFor(context: Pick<UniContext, 'platform' | 'os'>): ProviderName[] {
  switch (context.platform) {
    case 'mp-weixin':
      return ['wxpay', 'wxpay-virtual'];
    case 'mp-alipay':
      return ['alipay'];
    case 'mp-toutiao':
      return ['douyin'];
    case 'app':
    case 'app-plus':
      return context.os === 'ios' ? ['wxpay', 'alipay', 'appleiap'] : ['wxpay', 'alipay'];
    case 'web':
    case 'h5':
      return ['wxpay', 'alipay'];
    default:
      return [];
  }
}

export function createUniPayClient(options: UniClientOptions = {}): UniPayClient {
  const uni = options.uni ?? (globalThis as { uni?: UniLike }).uni;
  // On uni-app's web platform the global `uni` is an empty object: the page's own `uni` (which
  // uni-app imports into each page and component) has to be passed.
  if (typeof uni?.request !== 'function')
    throw new Error(
      'vk-pay-client: no uni.request on the global uni; pass options.uni (createUniPayClient({ uni }))',
    );
  const lang = options.lang ?? 'zh';
  const core = createCoreClient({
    ...(options.baseUrl !== undefined ? { baseUrl: options.baseUrl } : {}),
    ...(options.backend ? { backend: options.backend } : {}),
    lang,
    request: callbackRequestFunction(uni.request.bind(uni), options.timeoutMs),
  });
  const context = () => uniContext(uni);

  /** The merchant's body with the client context the service reads (unless the body has its own). */
  function withContext(body: Record<string, unknown>): Record<string, unknown> {
    const { platform, os, userAgent, isPC } = context();
    return {
      ...body,
      context: body.context ?? { platform, ...(os ? { os } : {}), ...(userAgent ? { userAgent } : {}) },
      isPC: body.isPC ?? isPC,
    };
  }

  const createPayment: VkPayClient['createPayment'] = (request) =>
    core.createPayment('body' in request ? { body: withContext(request.body) } : request);

  function pay(request: UniPayRequest, payOptions: UniPayOptions = {}): Promise<PayResult> {
    // createPayment of this client: it adds the platform's context to the body.
    const client = { ...core, createPayment };
    return payOnPlatform(client, request, payOptions.confirm, lang, (start, outTradeNo) =>
      run(start, outTradeNo, payOptions),
    );
  }

  async function run(start: PaymentStart, outTradeNo: string | undefined, payOptions: UniPayOptions) {
    const payment = start.payment;
    const requestPayment = uni!.requestPayment?.bind(uni);
    const platformCall = async (kind: PlatformKind, api: string, fn: Api | undefined, args: object) => {
      const { ok, answer } = await invoke<PlatformAnswer>(fn, api, args as Record<string, unknown>);
      return platformResult(kind, api, ok, answer as PlatformAnswer, lang, outTradeNo);
    };
    const no = outTradeNo ? { outTradeNo } : {};

    // WeChat mini program: uni.requestPayment with exactly the five signed fields.
    if ('paySign' in payment && payment.scene === 'miniprogram') {
      const { timeStamp, nonceStr, package: pkg, signType, paySign } = payment;
      return platformCall('wechat', 'requestPayment', requestPayment, {
        provider: 'wxpay',
        timeStamp,
        nonceStr,
        package: pkg,
        signType,
        paySign,
      });
    }
    // WeChat APP: orderInfo is the APP parameters object.
    if ('prepayid' in payment) {
      const { scene: _scene, ...orderInfo } = payment;
      return platformCall('wechat', 'requestPayment', requestPayment, { provider: 'wxpay', orderInfo });
    }
    // Alipay APP: the signed order string; Alipay mini program: the trade number.
    if ('orderString' in payment)
      return platformCall('alipay', 'requestPayment', requestPayment, {
        provider: 'alipay',
        orderInfo: payment.orderString,
      });
    if ('tradeNO' in payment)
      return platformCall('alipay', 'requestPayment', requestPayment, {
        provider: 'alipay',
        orderInfo: payment.tradeNO,
      });
    // Douyin guaranteed payment (tt.pay through uni.requestPayment).
    if ('orderInfo' in payment && 'service' in payment)
      return platformCall('douyin-pay', 'requestPayment', requestPayment, {
        provider: 'toutiao',
        orderInfo: payment.orderInfo,
        service: payment.service,
      });
    // Douyin trade system: tt.requestOrder, then the cashier with tt.getOrderPayment.
    if ('byteAuthorization' in payment) {
      const tt = (globalThis as { tt?: Record<string, Api | undefined> }).tt;
      const ordered = await invoke<{ orderId?: string }>(
        uni!.requestOrder?.bind(uni) ?? tt?.requestOrder,
        'requestOrder',
        { data: payment.data, byteAuthorization: payment.byteAuthorization },
      );
      if (!ordered.ok || !ordered.answer.orderId)
        return platformResult(
          'douyin-trade',
          'requestOrder',
          false,
          ordered.answer as PlatformAnswer,
          lang,
          outTradeNo,
        );
      return platformCall(
        'douyin-trade',
        'getOrderPayment',
        uni!.getOrderPayment?.bind(uni) ?? tt?.getOrderPayment,
        {
          orderId: ordered.answer.orderId,
        },
      );
    }
    // Apple IAP: uni-app's appleiap channel; username carries the appAccountToken (a UUID).
    if ('productId' in payment) return appleIap(payment, outTradeNo);

    // WeChat virtual payment, a JSAPI payment in WeChat's browser, QR codes and redirects: the
    // browser SDK's next step.
    const win = payOptions.window ?? (globalThis as { window?: WindowLike }).window;
    const wx = {
      requestVirtualPayment:
        uni!.requestVirtualPayment?.bind(uni) ??
        (globalThis as { wx?: { requestVirtualPayment?: Api } }).wx?.requestVirtualPayment,
      getSystemInfoSync: () => ({ platform: uniContext(uni!).os ?? '' }),
    };
    const step = await proceed(start, {
      ...(payOptions.returnUrl ? { returnUrl: payOptions.returnUrl } : {}),
      ...(win ? { window: win } : {}),
      wx: wx as WxLike,
      ...(payOptions.allowIos ? { allowIos: true } : {}),
    });
    switch (step.kind) {
      case 'qr':
        return payResult('pending', 'pending', lang, {
          next: step.image
            ? { kind: 'qr', codeUrl: step.content, image: step.image }
            : { kind: 'qr', codeUrl: step.content },
          ...no,
        });
      case 'redirect':
      case 'form':
        return payResult('pending', 'pending', lang, {
          next:
            step.kind === 'redirect'
              ? { kind: 'redirect', url: step.url }
              : { kind: 'form', action: step.action },
          ...no,
        });
      case 'jsapi':
        return platformResult(
          'wechat',
          'WeixinJSBridge.getBrandWCPayRequest',
          step.ok,
          { errMsg: step.message },
          lang,
          outTradeNo,
        );
      case 'virtual':
        if (step.code === 40009 || step.code === 40001)
          return payResult('failed', 'notAvailable', lang, {
            platform: { api: 'requestVirtualPayment', message: step.message, code: step.code },
            ...no,
          });
        return platformResult(
          'wechat',
          'requestVirtualPayment',
          step.ok,
          { errMsg: step.message, ...(step.code !== undefined ? { errCode: step.code } : {}) },
          lang,
          outTradeNo,
        );
      default:
        return payResult('failed', 'notAvailable', lang, no);
    }
  }

  async function appleIap(
    payment: { productId: string; appAccountToken: string },
    outTradeNo: string | undefined,
  ): Promise<PayResult> {
    const { ok, answer } = await invoke<{ transactionIdentifier?: string }>(
      uni!.requestPayment?.bind(uni),
      'requestPayment',
      {
        provider: 'appleiap',
        orderInfo: { productid: payment.productId, username: payment.appAccountToken, quantity: 1 },
      },
    );
    const platform = platformResult(
      'appleiap',
      'requestPayment',
      ok,
      answer as PlatformAnswer,
      lang,
      outTradeNo,
    );
    if (!ok || !options.backend?.storePurchase) return platform;
    const transactionId = answer.transactionIdentifier;
    if (!transactionId) return { ...payResult('pending', 'pending', lang), platform: platform.platform! };
    // The App Store took the money: hand the transaction over so the order is paid now (the App
    // Store's notification pays it too, should this never arrive).
    const handed = await core.handOverPurchase({ transactionId, ...(outTradeNo ? { outTradeNo } : {}) });
    if (!isSuccess(handed))
      return {
        ...payResult('pending', 'pending', lang),
        platform: platform.platform!,
        failure: handed,
        ...(outTradeNo ? { outTradeNo } : {}),
      };
    return platform;
  }

  return { ...core, createPayment, context, providers: () => providersFor(context()), pay };
}

export { type BuyerSituation, type BuyerWords, buyerWords, describeForBuyer } from '../core/buyer.ts';
export type {
  BackendEndpoints,
  BackendPayRequest,
  CheckoutPayRequest,
  PaymentTarget,
  StorePurchaseHandOver,
  StorePurchaseResult,
  VkPayClient,
  WaitOptions,
} from '../core/client.ts';
export {
  describeError,
  type ErrorDescription,
  type Failure,
  isSuccess,
  type Lang,
  type Result,
  type Success,
} from '../core/errors.ts';
export type { PayNext, PayOutcome, PayResult } from '../core/pay-result.ts';
export type {
  ClientPayParams,
  OrderStatus,
  PaymentOutcome,
  PaymentStart,
  PaymentStatus,
  ProviderName as CheckoutProviderName,
  Scene,
} from '../core/types.ts';
export {
  type Cashier,
  type CashierAction,
  type CashierEvent,
  type CashierMethod,
  type CashierOptions,
  type CashierPhase,
  type CashierState,
  type CashierTarget,
  type CashierTexts,
  cashierMethods,
  cashierTexts,
  countdown,
  createCashier,
  yuan,
} from './cashier.ts';
export type { ProviderName };
