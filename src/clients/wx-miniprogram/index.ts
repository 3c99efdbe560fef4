/**
 * vk-pay-client for native WeChat mini programs (clients/wx-miniprogram): the shared client core
 * over `wx.request`, and one `pay()` that runs `wx.requestPayment` with the five signed fields, or
 * `wx.requestVirtualPayment` for WeChat's virtual payment. Other providers do not pay inside a
 * WeChat mini program: they come back as not available here.
 */
import {
  type BackendEndpoints,
  createCoreClient,
  type VkPayClient,
  type WaitOptions,
} from '../core/client.ts';
import type { Lang } from '../core/errors.ts';
import {
  type CallbackRequest,
  callbackRequestFunction,
  invoke,
  type MiniPayRequest,
  payOnPlatform,
} from '../core/mini.ts';
import { type PayResult, type PlatformAnswer, payResult, platformResult } from '../core/pay-result.ts';
import type { PaymentStart } from '../core/types.ts';

type Api = (options: Record<string, unknown>) => unknown;

/** The little of `wx` the client uses. */
export interface WxMiniProgramLike {
  request: CallbackRequest;
  requestPayment?: Api;
  requestVirtualPayment?: Api;
  /** platform: ios, android, windows, mac, devtools. */
  getSystemInfoSync?(): { platform?: string };
}

export interface WxClientOptions {
  /** The merchant backend's endpoints (full URLs, in the mini program's request domain list). */
  backend?: BackendEndpoints;
  /** The VK-Pay service, for checkout-token calls. */
  baseUrl?: string;
  lang?: Lang;
  /** Per-request timeout for wx.request, ms. */
  timeoutMs?: number;
  /** Defaults to the global `wx`; tests pass a recorded one. */
  wx?: WxMiniProgramLike;
}

export interface WxPayOptions {
  /** After the platform's answer, wait for the service's word (waitForPayment); off by default. */
  confirm?: boolean | WaitOptions;
  /** Virtual payment on iOS: WeChat forbids it for most categories; refused unless true. */
  allowIos?: boolean;
}

export type WxPayRequest = MiniPayRequest;

export interface WxPayClient extends VkPayClient {
  /** The client context the service reads: platform mp-weixin and the device's system. */
  context(): { platform: 'mp-weixin'; os?: string };
  pay(request: WxPayRequest, options?: WxPayOptions): Promise<PayResult>;
}

export function createWxPayClient(options: WxClientOptions = {}): WxPayClient {
  const wx = options.wx ?? (globalThis as { wx?: WxMiniProgramLike }).wx;
  if (!wx) throw new Error('vk-pay-client: the wx global is not available; pass options.wx');
  const lang = options.lang ?? 'zh';
  const core = createCoreClient({
    ...(options.baseUrl !== undefined ? { baseUrl: options.baseUrl } : {}),
    ...(options.backend ? { backend: options.backend } : {}),
    lang,
    request: callbackRequestFunction(wx.request.bind(wx), options.timeoutMs),
  });

  function context(): { platform: 'mp-weixin'; os?: string } {
    let os: string | undefined;
    try {
      os = wx!.getSystemInfoSync?.().platform?.toLowerCase();
    } catch {
      os = undefined;
    }
    return os ? { platform: 'mp-weixin', os } : { platform: 'mp-weixin' };
  }

  const createPayment: VkPayClient['createPayment'] = (request) =>
    core.createPayment(
      'body' in request ? { body: { ...request.body, context: request.body.context ?? context() } } : request,
    );

  function pay(request: WxPayRequest, payOptions: WxPayOptions = {}): Promise<PayResult> {
    // createPayment of this client: it adds the platform's context to the body.
    const client = { ...core, createPayment };
    return payOnPlatform(client, request, payOptions.confirm, lang, (start, outTradeNo) =>
      run(start, outTradeNo, payOptions),
    );
  }

  async function run(
    start: PaymentStart,
    outTradeNo: string | undefined,
    payOptions: WxPayOptions,
  ): Promise<PayResult> {
    const payment = start.payment;
    const no = outTradeNo ? { outTradeNo } : {};
    if ('paySign' in payment) {
      const { timeStamp, nonceStr, package: pkg, signType, paySign } = payment;
      const { ok, answer } = await invoke<PlatformAnswer>(wx!.requestPayment?.bind(wx), 'requestPayment', {
        timeStamp,
        nonceStr,
        package: pkg,
        signType,
        paySign,
      });
      return platformResult('wechat', 'requestPayment', ok, answer as PlatformAnswer, lang, outTradeNo);
    }
    if ('signData' in payment) {
      if (context().os === 'ios' && !payOptions.allowIos)
        return payResult('failed', 'notAvailable', lang, {
          platform: { api: 'requestVirtualPayment', message: 'refused on iOS', code: 40009 },
          ...no,
        });
      const { mode, signData, paySig, signature } = payment;
      const { ok, answer } = await invoke<PlatformAnswer>(
        wx!.requestVirtualPayment?.bind(wx),
        'requestVirtualPayment',
        { mode, signData, paySig, signature },
      );
      return platformResult(
        'wechat',
        'requestVirtualPayment',
        ok,
        answer as PlatformAnswer,
        lang,
        outTradeNo,
      );
    }
    // A QR code can still be shown (e.g. to pay from another phone); anything else cannot pay here.
    if ('codeUrl' in payment)
      return payResult('pending', 'pending', lang, { next: { kind: 'qr', codeUrl: payment.codeUrl }, ...no });
    return payResult('failed', 'notAvailable', lang, no);
  }

  return { ...core, createPayment, context, pay };
}

export type { ProviderName } from '../../core/validate.ts';
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
