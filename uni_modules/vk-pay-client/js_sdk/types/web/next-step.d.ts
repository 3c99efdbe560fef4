/**
 * The scene's next step, done for the caller: WeChat JSAPI inside the WeChat browser, a redirect to
 * the H5 page, Alipay's form submitted, or the QR content returned for the page to show; inside a
 * Douyin mini app, the tt API to call with its arguments.
 */
import type { ClientPayParams, PaymentStart } from './types.js';
export type NextStep = {
    kind: 'qr';
    content: string;
    image?: string;
} | {
    kind: 'redirect';
    url: string;
} | {
    kind: 'form';
    action: string;
} | {
    kind: 'jsapi';
    ok: boolean;
    message: string;
} | {
    kind: 'app';
    params: ClientPayParams;
}
/** Mini program virtual payment: wx.requestVirtualPayment was invoked (or refused on iOS). */
 | {
    kind: 'virtual';
    ok: boolean;
    message: string;
    code?: number;
}
/** Inside a Douyin mini app: the API to call and its arguments (the mini app calls it; the SDK does not). */
 | {
    kind: 'douyin';
    api: 'tt.requestOrder';
    args: {
        data: string;
        byteAuthorization: string;
    };
} | {
    kind: 'douyin';
    api: 'tt.pay';
    args: {
        orderInfo: {
            order_id: string;
            order_token: string;
        };
        service: 5;
    };
};
/** The little of the DOM this needs, typed here so the SDK compiles without the DOM library. */
interface FormLike {
    getAttribute(name: string): string | null;
    submit(): void;
    style: {
        display: string;
    };
}
export interface WindowLike {
    location: {
        assign(url: string): void;
    };
    document: {
        importNode(node: FormLike, deep: boolean): FormLike;
        body: {
            appendChild(node: FormLike): unknown;
        };
    };
    DOMParser: new () => {
        parseFromString(text: string, type: 'text/html'): {
            querySelector(selector: 'form'): FormLike | null;
        };
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
        success(answer: {
            errMsg: string;
        }): void;
        fail(answer: {
            errMsg: string;
            errCode?: number;
        }): void;
    }): void;
    getSystemInfoSync?(): {
        platform?: string;
    };
}
interface WeixinBridge {
    invoke(name: string, params: Record<string, string>, callback: (answer: {
        err_msg: string;
    }) => void): void;
}
export declare function proceed(start: PaymentStart, options?: ProceedOptions): Promise<NextStep>;
export {};
