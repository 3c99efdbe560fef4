/** The WeChat Pay APIv3 gateway emulator: public surface. */
export { API_FAULT_KINDS, API_OPERATIONS, type FaultSpec, NOTIFY_FAULT_KINDS } from './faults.ts';
export { WxpayGateway, type WxpayGatewayOptions } from './gateway.ts';
export type { KeyMode, MerchantCredentials, MerchantRegistration } from './merchants.ts';
export { NOTIFY_RETRY_SCHEDULE_SECONDS, type NotificationRecord } from './notifier.ts';
export { type WxpaySandboxPlugin, type WxpaySandboxPluginOptions, wxpaySandboxPlugin } from './plugin.ts';
export type { RandomSource, SandboxClock } from './runtime.ts';
export { type RunningWxpaySandbox, type StartWxpaySandboxOptions, startWxpaySandbox } from './server.ts';
