/** The App Store (in-app purchase) emulator: public surface. */
export { APPLE_ERRORS } from './api-routes.ts';
export type { AppCredentials, AppleEnvironment, AppRegistration, Product, ProductType } from './apps.ts';
export {
  AppleGateway,
  type AppleGatewayOptions,
  type PurchaseInput,
  type TransactionRecord,
} from './gateway.ts';
export { NOTIFY_RETRY_SCHEDULE_HOURS, type NotificationRecord } from './notifier.ts';
export { type AppleSandboxPlugin, appleSandboxPlugin, SANDBOX_HOST_PATH } from './plugin.ts';
export { type RunningAppleSandbox, type StartAppleSandboxOptions, startAppleSandbox } from './server.ts';
export { AppleTestCa, INTERMEDIATE_MARKER_OID, LEAF_MARKER_OID } from './test-ca.ts';
