/** The Alipay OpenAPI gateway emulator: plugin, standalone server and the pieces tests reach for. */
export type { AppCredentials, AppRegistration, KeyMode } from './apps.ts';
export { certificateSn, rootCertificateSn } from './cert-sn.ts';
export type { FaultSpec } from './faults.ts';
export { API_FAULT_KINDS, NOTIFY_FAULT_KINDS } from './faults.ts';
export { AlipayGateway, type AlipayGatewayOptions } from './gateway.ts';
export { ALIPAY_NOTIFY_RETRY_GAPS_MS, type NotificationRecord } from './notifier.ts';
export { type AlipaySandboxOptions, alipaySandboxPlugin, SANDBOX_PATH } from './plugin.ts';
export { type RunningAlipaySandbox, type StartAlipaySandboxOptions, startAlipaySandbox } from './server.ts';
export { notifySigningString, requestSigningString } from './signing.ts';
export type { TradeStatus } from './trades.ts';
