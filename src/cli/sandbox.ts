/** `vk-pay sandbox`: the gateway emulators alone (WeChat Pay, Alipay, App Store), each on its own port. */
import { type RunningAlipaySandbox, startAlipaySandbox } from '../sandbox/alipay/index.ts';
import { type RunningAppleSandbox, startAppleSandbox } from '../sandbox/appleiap/index.ts';
import { type RunningWxpaySandbox, startWxpaySandbox } from '../sandbox/wxpay/index.ts';

export interface SandboxOptions {
  host: string;
  wxpayPort: number;
  alipayPort: number;
  /** The App Store emulator's port (0: any free port). */
  appleiapPort?: number;
  timeFactor: number;
}

export interface RunningSandboxes {
  wxpay: RunningWxpaySandbox;
  alipay: RunningAlipaySandbox;
  appleiap: RunningAppleSandbox;
  close(): Promise<void>;
}

export async function startSandboxes(options: SandboxOptions): Promise<RunningSandboxes> {
  const wxpay = await startWxpaySandbox({
    host: options.host,
    port: options.wxpayPort,
    timeFactor: options.timeFactor,
  });
  let alipay: RunningAlipaySandbox;
  try {
    alipay = await startAlipaySandbox({
      host: options.host,
      port: options.alipayPort,
      timeFactor: options.timeFactor,
    });
  } catch (error) {
    await wxpay.close();
    throw error;
  }
  let appleiap: RunningAppleSandbox;
  try {
    appleiap = await startAppleSandbox({
      host: options.host,
      port: options.appleiapPort ?? 8093,
      timeFactor: options.timeFactor,
    });
  } catch (error) {
    await Promise.all([wxpay.close(), alipay.close()]);
    throw error;
  }
  return {
    wxpay,
    alipay,
    appleiap,
    async close() {
      await Promise.all([wxpay.close(), alipay.close(), appleiap.close()]);
    },
  };
}
