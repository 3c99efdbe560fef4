export { type Cache, createMemoryCache, createRedisCache } from './cache/index.ts';
export { type RunningService, serve } from './cli/serve.ts';
export { ConfigError, loadConfig, type VkPayConfig } from './config/config.ts';
export { loadServiceConfig, type ServiceConfig } from './config/service-config.ts';
export { ERROR_TABLE, type ErrorCode, type ErrorResult, isPayError, PayError } from './core/errors.ts';
export { fenToYuan, yuanToFen } from './core/money.ts';
export type { OrderStatus, RefundStatus } from './core/states.ts';
export { buildApp } from './http/app.ts';
export { type AlipayMerchantConfig, createAlipayProvider } from './providers/alipay/index.ts';
export type { PaymentResult, Provider, RefundResult } from './providers/provider.ts';
export {
  createWxpayProvider,
  type WxpayMerchantConfig,
  type WxpayServiceProviderConfig,
  type WxpaySubMerchantConfig,
} from './providers/wxpay/index.ts';
export type { BusinessHandler, HandlerContext } from './service/handlers.ts';
export type { MicropayOutcome, MicropaySettings } from './service/micropay.ts';
export { type MicropayReport, settleConfirmingPayments, startMicropayJob } from './service/micropay-job.ts';
export type { Order, Refund } from './service/model.ts';
export type { ApplyOutcome } from './service/payments.ts';
export type { RefundApplyOutcome } from './service/refunds.ts';
export { REVIEW_ACTIONS, REVIEW_KINDS, type Review, type ReviewKind } from './service/reviews.ts';
export { createVkPay, type VkPay, type VkPayOptions } from './vk-pay.ts';
