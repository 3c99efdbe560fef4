/**
 * What the gray release routing decision costs a createPayment: the decision as `pay` makes it
 * (the instance's copy of the stored shares, then the first matching route and the payer's hash),
 * timed alone, beside an in-process createPayment through the same routes against the WeChat Pay
 * emulator in another process, both in the same run.
 */
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { createWxpayProvider } from '../src/providers/wxpay/index.ts';
import { shareOverrides } from '../src/service/route-overrides.ts';
import { chooseAccount, type Route } from '../src/service/routing.ts';
import { createVkPay } from '../src/vk-pay.ts';
import { registerWxpayMerchant } from './support/emulators.ts';

export interface RoutingBenchResult {
  decisions: number;
  /** Mean cost of one routing decision, microseconds. */
  decisionUs: number;
  payments: number;
  /** Mean time of one createPayment (order row, routed prepay at the emulator, log row), ms. */
  createPaymentMs: number;
  /** Share of a createPayment the decision takes. */
  ratio: number;
}

const MERCHANT = 'benchroute';
/** Three routes, the payment matching the last: every rule is looked at, as in the worst case. */
const ROUTES: Route[] = [
  { id: 'ali-new', match: { provider: 'alipay' }, stable: 'default', canary: 'canary', share: 50 },
  { id: 'wx-h5', match: { provider: 'wxpay', scene: 'h5' }, stable: 'default', canary: 'canary', share: 50 },
  { id: 'wx-native', match: { provider: 'wxpay' }, stable: 'default', canary: 'canary', share: 10 },
];

export async function benchRouting(
  wxpayUrl: string,
  decisions: number,
  payments: number,
): Promise<RoutingBenchResult> {
  const [stable, canary] = [await registerWxpayMerchant(wxpayUrl), await registerWxpayMerchant(wxpayUrl)];
  const account = (merchant: typeof stable, name: string) => ({
    merchantId: MERCHANT,
    ...(name === 'default' ? {} : { account: name }),
    mchId: merchant.mchId,
    appId: merchant.appId,
    serialNo: merchant.serialNo,
    privateKey: merchant.privateKeyPem,
    apiV3Key: merchant.apiV3Key,
    wechatpayPublicKey: merchant.wechatpayPublicKey,
    baseUrl: wxpayUrl,
    timeoutMs: 10_000,
    retry: { maxAttempts: 1 },
  });
  const vkPay = await createVkPay({
    dataDir: 'memory',
    logger: pino({ level: 'silent' }),
    providers: [createWxpayProvider({ merchants: [account(stable, 'default'), account(canary, 'canary')] })],
    routes: { [MERCHANT]: ROUTES },
  });
  try {
    vkPay.onPaid('goods', () => {});
    const run = randomBytes(3).toString('hex');
    const pay = (i: number) =>
      vkPay.pay({
        merchantId: MERCHANT,
        provider: 'wxpay',
        scene: 'native',
        out_trade_no: `RB${run}${i.toString().padStart(7, '0')}`,
        total_fee: 100 + (i % 1000),
        subject: 'bench routed payment',
        type: 'goods',
        user_id: `user-${i}`,
      });
    for (let i = 0; i < Math.min(20, payments); i++) await pay(-1 - i);

    const routes = vkPay.context.routes.get(MERCHANT) ?? [];
    const decide = async (i: number) =>
      chooseAccount(
        routes,
        {
          provider: 'wxpay',
          scene: 'native',
          type: 'goods',
          platform: null,
          userId: `user-${i}`,
          outTradeNo: `T${i}`,
        },
        await shareOverrides(vkPay.context, MERCHANT),
      );
    for (let i = 0; i < 1_000; i++) await decide(i);
    let canaries = 0;
    const decisionsStarted = performance.now();
    for (let i = 0; i < decisions; i++) if ((await decide(i)).variant === 'canary') canaries += 1;
    const decisionUs = ((performance.now() - decisionsStarted) * 1000) / decisions;
    if (canaries === 0) throw new Error('no payer was routed to the canary account');

    const paymentsStarted = performance.now();
    for (let i = 0; i < payments; i++) await pay(i);
    const createPaymentMs = (performance.now() - paymentsStarted) / payments;
    return { decisions, decisionUs, payments, createPaymentMs, ratio: decisionUs / 1000 / createPaymentMs };
  } finally {
    await vkPay.close();
  }
}
