/**
 * The gateway emulators (`vk-pay sandbox`, their own process) as the soak sees them: the WeChat Pay
 * merchant and the Alipay app registered on them, faults injected through its control API, trades paid there, and its own
 * records (trades, refunds, notifications) read back to check the service against.
 */
import { type Child, startChild } from '../../bench/support/children.ts';
import {
  type BenchAlipayApp,
  newWxpayMerchantKeys,
  registerAlipayApp,
} from '../../bench/support/emulators.ts';

export interface SoakMerchant {
  mchId: string;
  appId: string;
  apiV3Key: string;
  serialNo: string;
  privateKeyPem: string;
  wechatpayPublicKey: { id: string; pem: string };
}

export interface GatewayTrade {
  transaction: { trade_state: string; amount: { total: number } };
  refunds: Array<{ out_refund_no: string; status: string; amount: { refund: number } }>;
}

/** The Alipay emulator's view of a trade (its control API). */
export interface AlipayTrade {
  tradeStatus: string;
  totalFen: number;
  refundedFen: number;
}

export interface Fault {
  channel?: 'api' | 'notify';
  kind: string;
  outTradeNo?: string;
  operation?: string;
  times?: number | 'always';
  delayMs?: number;
  afterHandling?: boolean;
}

export interface Gateway {
  child: Child<{ wxpay: string; alipay: string }>;
  url: string;
  merchant: SoakMerchant;
  /** Alipay's gateway.do URL and the app registered there. */
  alipayUrl: string;
  alipayApp: BenchAlipayApp;
  alipayFault(fault: Fault): Promise<void>;
  alipayPay(outTradeNo: string): Promise<void>;
  alipayTrade(outTradeNo: string): Promise<AlipayTrade | null>;
  /** Faults injected, by kind. */
  faults: Record<string, number>;
  fault(fault: Fault): Promise<void>;
  clearFaults(): Promise<void>;
  pay(outTradeNo: string): Promise<void>;
  trade(outTradeNo: string): Promise<GatewayTrade | null>;
  notifications(outTradeNo: string): Promise<Array<{ state: string; attempts: unknown[] }>>;
  stop(): Promise<void>;
}

async function call<T>(method: string, url: string, body?: unknown): Promise<{ status: number; json: T }> {
  const response = await fetch(url, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: (text ? JSON.parse(text) : null) as T };
}

export async function startGateway(timeFactor: number): Promise<Gateway> {
  const child = await startChild<{ wxpay: string; alipay: string }>({
    args: ['bin/vk-pay.mjs', 'sandbox'],
    readyMsg: 'VK-Pay sandbox ready',
    timeoutMs: 60_000,
    env: {
      VKPAY_HOST: '127.0.0.1',
      VKPAY_SANDBOX_WXPAY_PORT: '0',
      VKPAY_SANDBOX_ALIPAY_PORT: '0',
      // Notification retries (15 s, 15 s, 30 s...) and refund outcomes at this fraction of real time.
      VKPAY_SANDBOX_TIME_FACTOR: String(timeFactor),
    },
  });
  const url = child.ready.wxpay;
  const keys = newWxpayMerchantKeys();
  const registered = await call<{ publicKeyId: string; publicKeyPem: string }>(
    'POST',
    `${url}/sandbox/merchants`,
    {
      mchid: keys.mchId,
      appid: keys.appId,
      apiV3Key: keys.apiV3Key,
      merchantSerialNo: keys.serialNo,
      merchantPublicKeyPem: keys.publicKeyPem,
      keyMode: 'publicKey',
      // Refunds succeed by themselves (and notify) shortly after they are asked for; many refunds of
      // one order may follow each other at once.
      refundAutoSucceedMs: 2_000,
      refundSpacing: false,
    },
  );
  if (registered.status !== 200) throw new Error(`merchant registration answered ${registered.status}`);
  const { publicKeyPem: _ignored, ...merchantKeys } = keys;
  const merchant: SoakMerchant = {
    ...merchantKeys,
    wechatpayPublicKey: { id: registered.json.publicKeyId, pem: registered.json.publicKeyPem },
  };
  const alipayUrl = child.ready.alipay;
  const alipayControl = alipayUrl.replace(/\/gateway\.do$/, '/sandbox/alipay');
  const alipayApp = await registerAlipayApp(alipayControl);
  const faults: Record<string, number> = {};
  const mchid = merchant.mchId;
  const count = (name: string, fault: Fault) => {
    faults[name] = (faults[name] ?? 0) + (typeof fault.times === 'number' ? fault.times : 1);
  };
  return {
    child,
    url,
    merchant,
    faults,
    async fault(fault) {
      const answer = await call('POST', `${url}/sandbox/faults`, { mchid, ...fault });
      if (answer.status !== 200) throw new Error(`fault ${JSON.stringify(fault)} answered ${answer.status}`);
      count(
        `wxpay:${fault.channel ?? 'api'}:${fault.kind}${fault.operation ? `:${fault.operation}` : ''}`,
        fault,
      );
    },
    alipayUrl,
    alipayApp,
    async alipayFault(fault) {
      const answer = await call('POST', `${alipayControl}/faults`, { appId: alipayApp.appId, ...fault });
      if (answer.status !== 200) throw new Error(`fault ${JSON.stringify(fault)} answered ${answer.status}`);
      count(`alipay:${fault.channel ?? 'api'}:${fault.kind}`, fault);
    },
    async alipayPay(outTradeNo) {
      const answer = await call('POST', `${alipayControl}/trades/${alipayApp.appId}/${outTradeNo}/pay`, {});
      if (answer.status !== 200) throw new Error(`paying ${outTradeNo} at Alipay answered ${answer.status}`);
    },
    async alipayTrade(outTradeNo) {
      const answer = await call<AlipayTrade>(
        'GET',
        `${alipayControl}/trades/${alipayApp.appId}/${outTradeNo}`,
      );
      return answer.status === 200 ? answer.json : null;
    },
    async clearFaults() {
      await call('DELETE', `${url}/sandbox/faults`);
    },
    async pay(outTradeNo) {
      const answer = await call('POST', `${url}/sandbox/trades/${mchid}/${outTradeNo}/pay`, {});
      if (answer.status !== 200)
        throw new Error(`paying ${outTradeNo} at the gateway answered ${answer.status}`);
    },
    async trade(outTradeNo) {
      const answer = await call<GatewayTrade>('GET', `${url}/sandbox/trades/${mchid}/${outTradeNo}`);
      return answer.status === 200 ? answer.json : null;
    },
    async notifications(outTradeNo) {
      const answer = await call<Array<{ state: string; attempts: unknown[] }>>(
        'GET',
        `${url}/sandbox/notifications?mchid=${mchid}&out_trade_no=${outTradeNo}`,
      );
      return answer.json ?? [];
    },
    stop: () => child.stop(),
  };
}
