/** What the browser sends and receives: payment parameters per scene, and an order's status. */
import type { ClientPayParams } from '../../core/client-params.js';
import type { CheckoutProviderName as ProviderName, Scene } from '../../core/validate.js';
export type { ClientPayParams, ProviderName, Scene };
/** A created payment: the scene and its parameters, plus a QR image when the scene is a QR code. */
export interface PaymentStart {
    scene: Scene;
    provider?: ProviderName;
    payment: ClientPayParams;
    /** data: URL of an SVG QR code made by the service (checkout only). */
    qrImage?: string;
    /** Where the buyer comes back after paying in another page. */
    returnUrl?: string;
}
export type OrderStatus = 'NOTPAY' | 'USERPAYING' | 'SUCCESS' | 'PARTIAL_REFUNDED' | 'REFUNDED' | 'CLOSED' | 'FAILED';
/** Where waiting ends: paid, closed (or expired), failed, cancelled by the caller; pending otherwise. */
export type PaymentOutcome = 'pending' | 'paid' | 'closed' | 'expired' | 'failed' | 'cancelled';
export interface PaymentStatus {
    outTradeNo: string;
    status: OrderStatus;
    outcome: PaymentOutcome;
    /** The last failed attempt's unified error, e.g. 40007 for an insufficient balance. */
    failure: {
        code: number;
        msg: string;
        action: string;
        gatewayCode?: string;
    } | null;
    /** When the payment can no longer be made (ISO 8601), when the service says: waiting ends there. */
    expiresAt?: string | null;
    /** Who the buyer pays (checkout only), from the merchant's configuration. */
    payee?: {
        name: string;
        logoUrl?: string;
    } | null;
}
/** The outcome an order status stands for (expiry is the service's to tell). */
export declare function outcomeOf(status: OrderStatus, expired?: boolean): PaymentOutcome;
