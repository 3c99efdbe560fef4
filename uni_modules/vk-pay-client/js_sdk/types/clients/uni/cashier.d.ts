/**
 * The cashier popup's logic (components/vk-pay-cashier in uni_modules/vk-pay-client), kept out of
 * the Vue file so it can be tested: the methods this platform can pay with, the amount in yuan, the
 * countdown, and one flow from choosing a method to a final state (paid, failed, closed), each with
 * the ways forward the buyer has there. The component renders `state` and calls the actions.
 */
import type { ProviderName } from '../../core/validate.js';
import type { WaitOptions } from '../core/client.js';
import { type Failure, type Lang } from '../core/errors.js';
import type { PayResult } from '../core/pay-result.js';
import type { PaymentStatus } from '../core/types.js';
import type { UniPayClient, UniPayOptions } from './index.js';
/**
 * choose: the methods are offered; starting: the payment is being created and run; qr: a QR code to
 * scan (a browser on a PC); waiting: for the service's word; paid, failed, closed: final for this
 * attempt; cancelled: the buyer left the cashier.
 */
export type CashierPhase = 'choose' | 'starting' | 'qr' | 'waiting' | 'paid' | 'failed' | 'closed' | 'cancelled';
/** retry: the same method again; otherMethod: back to the list; close: close the popup; cancel: stop paying. */
export type CashierAction = 'retry' | 'otherMethod' | 'close' | 'cancel';
export interface CashierMethod {
    provider: ProviderName;
    label: string;
}
export interface CashierState {
    phase: CashierPhase;
    methods: CashierMethod[];
    provider?: ProviderName;
    /** The QR code: the service's image (checkout) and the code's content. */
    qr?: {
        codeUrl: string;
        image?: string;
    };
    /** The buyer's words for a result (paid, failed, closed) or the wait. */
    title?: string;
    text?: string;
    /** The unified error behind a failure, for support (e.g. 40007). */
    failure?: Failure;
    /** When the payment can no longer be made (epoch ms), once the service said. */
    expiresAt?: number;
    /** "mm:ss" left until expiresAt. */
    countdown?: string;
    actions: CashierAction[];
}
/** What the cashier pays: a checkout token, or a body for the merchant's backend. */
export type CashierTarget = {
    checkoutToken: string;
} | {
    body: Record<string, unknown>;
};
export type CashierEvent = {
    type: 'success';
    status: PaymentStatus;
} | {
    type: 'fail';
    result: PayResult | null;
    failure?: Failure;
} | {
    type: 'cancel';
} | {
    type: 'close';
};
export interface CashierOptions {
    client: Pick<UniPayClient, 'pay' | 'waitForPayment' | 'providers'>;
    target: CashierTarget;
    lang?: Lang;
    /** Only these of the platform's methods (the merchant's choice), in this order. */
    methods?: ProviderName[];
    /** pay()'s options (returnUrl for WeChat H5 in a browser); `confirm` is the cashier's. */
    payOptions?: Omit<UniPayOptions, 'confirm'>;
    onChange(state: CashierState): void;
    onEvent(event: CashierEvent): void;
    /** How the cashier polls the service (default: every 1 s growing to 5 s, until the expiry). */
    wait?: Pick<WaitOptions, 'intervalMs' | 'maxIntervalMs' | 'factor' | 'timeoutMs'>;
    /** The clock for the countdown; Date.now by default. */
    now?: () => number;
}
export interface Cashier {
    readonly state: CashierState;
    choose(provider: ProviderName): Promise<void>;
    /** Runs one of state.actions. */
    act(action: CashierAction): Promise<void>;
    /** Recomputes the countdown (the component calls it every second). */
    tick(): void;
    /** Stops any wait (the popup is going away). */
    dispose(): void;
}
declare const TEXTS: {
    zh: {
        title: string;
        amount: string;
        choose: string;
        noMethods: string;
        scanWxpay: string;
        scanAlipay: string;
        scanOther: string;
        starting: string;
        waiting: string;
        expiresIn: string;
        code: string;
        retry: string;
        otherMethod: string;
        close: string;
        cancel: string;
    };
    en: {
        title: string;
        amount: string;
        choose: string;
        noMethods: string;
        scanWxpay: string;
        scanAlipay: string;
        scanOther: string;
        starting: string;
        waiting: string;
        expiresIn: string;
        code: string;
        retry: string;
        otherMethod: string;
        close: string;
        cancel: string;
    };
};
export type CashierTexts = (typeof TEXTS)['zh'];
/** The cashier's labels in the buyer's language. */
export declare function cashierTexts(lang?: Lang): CashierTexts;
/** The platform's methods the merchant allows (all of them when `allowed` is absent), labelled. */
export declare function cashierMethods(available: ProviderName[], lang?: Lang, allowed?: ProviderName[]): CashierMethod[];
/** Integer fen as yuan with two decimals: 1990 -> "19.90". */
export declare function yuan(fen: number): string;
/** Time left as "mm:ss" (hours count as minutes), never below 00:00. */
export declare function countdown(ms: number): string;
export declare function createCashier(options: CashierOptions): Cashier;
export {};
