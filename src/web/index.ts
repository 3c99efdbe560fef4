/**
 * vk-pay/client: the browser SDK. Typed, ESM, no Node built-ins. See docs/client-sdk.md.
 */
export {
  type BackendPayRequest,
  type CheckoutPayRequest,
  type ClientOptions,
  createClient,
  type PaymentTarget,
  type StorePurchaseHandOver,
  type StorePurchaseResult,
  type VkPayClient,
  type WaitOptions,
} from './client.ts';
export {
  describeError,
  type ErrorDescription,
  type Failure,
  type FailureKind,
  isSuccess,
  type Lang,
  type Result,
  type Success,
} from './errors.ts';
export { type NextStep, type ProceedOptions, proceed, type WindowLike, type WxLike } from './next-step.ts';
export { type StoreKitPurchase, storeKitPurchase } from './storekit.ts';
export type {
  ClientPayParams,
  OrderStatus,
  PaymentOutcome,
  PaymentStart,
  PaymentStatus,
  ProviderName,
  Scene,
} from './types.ts';
