/** The Douyin (general trade system and legacy guaranteed payment) emulator: public surface. */
export { DouyinFailure, DouyinGateway, type DouyinGatewayOptions, ERR } from './gateway.ts';
export { NOTIFY_RETRY_SCHEDULE_SECONDS, type NotificationRecord } from './notifier.ts';
export { type DouyinSandboxPlugin, douyinSandboxPlugin } from './plugin.ts';
export { type RunningDouyinSandbox, type StartDouyinSandboxOptions, startDouyinSandbox } from './server.ts';
