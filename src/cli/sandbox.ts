/** `vk-pay sandbox`: the two gateway emulators alone, each on its own port. */
import { type RunningAlipaySandbox, startAlipaySandbox } from '../sandbox/alipay/index.ts';
import { type RunningWxpaySandbox, startWxpaySandbox } from '../sandbox/wxpay/index.ts';

export interface SandboxOptions {
  host: string;
  wxpayPort: number;
  alipayPort: number;
  timeFactor: number;
}

export interface RunningSandboxes {
  wxpay: RunningWxpaySandbox;
  alipay: RunningAlipaySandbox;
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
  return {
    wxpay,
    alipay,
    async close() {
      await Promise.all([wxpay.close(), alipay.close()]);
    },
  };
}
