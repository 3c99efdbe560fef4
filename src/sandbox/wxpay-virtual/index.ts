/** The WeChat mini program virtual payment emulator: public surface. */
export {
  type Env,
  type GatewayOptions,
  type MiniProgram,
  WxVirtualGateway,
  type XpayOrderRecord,
} from './gateway.ts';
export { type WxVirtualSandboxPlugin, wxVirtualSandboxPlugin } from './plugin.ts';
export { PUSH_RETRY_SCHEDULE_S, type PushMode, type PushRecord } from './pusher.ts';
export { type RunningWxVirtualSandbox, startWxVirtualSandbox } from './server.ts';
