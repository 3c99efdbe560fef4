/**
 * The scene's next step, done for the caller: WeChat JSAPI inside the WeChat browser, a redirect to
 * the H5 page, Alipay's form submitted, or the QR content returned for the page to show; inside a
 * Douyin mini app, the tt API to call with its arguments.
 */
import type { ClientPayParams, PaymentStart } from './types.ts';

export type NextStep =
  | { kind: 'qr'; content: string; image?: string }
  | { kind: 'redirect'; url: string }
  | { kind: 'form'; action: string }
  | { kind: 'jsapi'; ok: boolean; message: string }
  | { kind: 'app'; params: ClientPayParams }
  /** Mini program virtual payment: wx.requestVirtualPayment was invoked (or refused on iOS). */
  | { kind: 'virtual'; ok: boolean; message: string; code?: number }
  /** Inside a Douyin mini app: the API to call and its arguments (the mini app calls it; the SDK does not). */
  | { kind: 'douyin'; api: 'tt.requestOrder'; args: { data: string; byteAuthorization: string } }
  | {
      kind: 'douyin';
      api: 'tt.pay';
      args: { orderInfo: { order_id: string; order_token: string }; service: 5 };
    };

/** The little of the DOM this needs, typed here so the SDK compiles without the DOM library. */
interface FormLike {
  getAttribute(name: string): string | null;
  submit(): void;
  style: { display: string };
}
export interface WindowLike {
  location: { assign(url: string): void };
  document: {
    importNode(node: FormLike, deep: boolean): FormLike;
    body: { appendChild(node: FormLike): unknown };
  };
  DOMParser: new () => {
    parseFromString(text: string, type: 'text/html'): { querySelector(selector: 'form'): FormLike | null };
  };
  WeixinJSBridge?: WeixinBridge;
}

export interface ProceedOptions {
  /** Where the WeChat H5 page returns the buyer (its redirect_url). */
  returnUrl?: string;
  /** false: work out the step without navigating or invoking anything. */
  act?: boolean;
  /** Defaults to the global window; tests pass their own. */
  window?: WindowLike;
  /** The mini program's `wx`, for virtual payment; defaults to the global one. */
  wx?: WxLike;
  /**
   * Virtual payment on iOS: WeChat forbids it for most mini program categories, so it is refused
   * there (40009) unless the merchant's category has it.
   */
  allowIos?: boolean;
}

/** The little of a mini program's `wx` virtual payment needs. */
export interface WxLike {
  requestVirtualPayment?(options: {
    mode: string;
    signData: string;
    paySig: string;
    signature: string;
    success(answer: { errMsg: string }): void;
    fail(answer: { errMsg: string; errCode?: number }): void;
  }): void;
  getSystemInfoSync?(): { platform?: string };
}

interface WeixinBridge {
  invoke(name: string, params: Record<string, string>, callback: (answer: { err_msg: string }) => void): void;
}

export async function proceed(start: PaymentStart, options: ProceedOptions = {}): Promise<NextStep> {
  const act = options.act ?? true;
  const win = options.window ?? (globalThis as { window?: WindowLike }).window;
  const payment = start.payment;
  if ('codeUrl' in payment) {
    return start.qrImage
      ? { kind: 'qr', content: payment.codeUrl, image: start.qrImage }
      : { kind: 'qr', content: payment.codeUrl };
  }
  if ('h5Url' in payment) {
    const url = options.returnUrl
      ? `${payment.h5Url}${payment.h5Url.includes('?') ? '&' : '?'}redirect_url=${encodeURIComponent(options.returnUrl)}`
      : payment.h5Url;
    if (act && win) win.location.assign(url);
    return { kind: 'redirect', url };
  }
  if ('payUrl' in payment) {
    if (payment.form && win) {
      const form = new win.DOMParser().parseFromString(payment.form, 'text/html').querySelector('form');
      if (form) {
        if (act) {
          // The gateway's form carries a script that would submit it; scripts do not run here, so submit.
          const adopted = win.document.importNode(form, true);
          adopted.style.display = 'none';
          win.document.body.appendChild(adopted);
          adopted.submit();
        }
        return { kind: 'form', action: form.getAttribute('action') ?? '' };
      }
    }
    if (act && win) win.location.assign(payment.payUrl);
    return { kind: 'redirect', url: payment.payUrl };
  }
  if ('paySign' in payment) return invokeJsapi(payment, act ? win : undefined);
  if ('signData' in payment) return invokeVirtual(payment, options, act);
  if ('byteAuthorization' in payment)
    return {
      kind: 'douyin',
      api: 'tt.requestOrder',
      args: { data: payment.data, byteAuthorization: payment.byteAuthorization },
    };
  if ('orderInfo' in payment)
    return {
      kind: 'douyin',
      api: 'tt.pay',
      args: { orderInfo: payment.orderInfo, service: payment.service },
    };
  return { kind: 'app', params: payment };
}

function invokeJsapi(
  payment: Extract<ClientPayParams, { paySign: string }>,
  win: WindowLike | undefined,
): Promise<NextStep> {
  const bridge = win?.WeixinJSBridge;
  if (!bridge)
    return Promise.resolve({ kind: 'jsapi', ok: false, message: 'WeixinJSBridge is not available' });
  const { scene: _scene, ...params } = payment;
  return new Promise((resolve) =>
    bridge.invoke('getBrandWCPayRequest', params, (answer) =>
      resolve({
        kind: 'jsapi',
        ok: answer.err_msg === 'get_brand_wcpay_request:ok',
        message: answer.err_msg,
      }),
    ),
  );
}

const IOS_REFUSED = "WeChat does not offer virtual payment on iOS for this mini program's category";

function invokeVirtual(
  payment: Extract<ClientPayParams, { signData: string }>,
  options: ProceedOptions,
  act: boolean,
): Promise<NextStep> {
  const wx = options.wx ?? (globalThis as { wx?: WxLike }).wx;
  if (!wx?.requestVirtualPayment)
    return Promise.resolve({
      kind: 'virtual',
      ok: false,
      message: 'wx.requestVirtualPayment is not available: virtual payment runs in WeChat mini programs',
      code: 40001,
    });
  const platform = (wx.getSystemInfoSync?.().platform ?? '').toLowerCase();
  if (platform === 'ios' && !options.allowIos)
    return Promise.resolve({ kind: 'virtual', ok: false, message: IOS_REFUSED, code: 40009 });
  if (!act) return Promise.resolve({ kind: 'virtual', ok: false, message: 'not invoked' });
  const request = wx.requestVirtualPayment;
  return new Promise((resolve) =>
    request.call(wx, {
      mode: payment.mode,
      signData: payment.signData,
      paySig: payment.paySig,
      signature: payment.signature,
      success: (answer) => resolve({ kind: 'virtual', ok: true, message: answer.errMsg }),
      fail: (answer) =>
        resolve({
          kind: 'virtual',
          ok: false,
          message: answer.errMsg,
          ...(answer.errCode !== undefined ? { code: answer.errCode } : {}),
        }),
    }),
  );
}
