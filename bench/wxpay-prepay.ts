/**
 * Native prepay calls per second through our WeChat Pay provider against the emulator in
 * another process, beside this machine's RSA-2048 signing rate measured in the same run. A signed
 * call costs at least one signature here and one at the gateway, so the signing rate is its floor.
 */
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { createWxpayProvider } from '../src/providers/wxpay/index.ts';
import { registerWxpayMerchant } from './support/emulators.ts';
import { runConcurrently } from './support/load.ts';

export interface WxpayPrepayResult {
  calls: number;
  concurrency: number;
  callsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  signsPerSecond: number;
  /** Prepay calls per RSA-2048 signature the machine can make in the same time (one core). */
  ratio: number;
}

/** SHA256withRSA signatures per second with a 2048-bit key, on one core, for about `ms`. */
export function measureRsaSignRate(ms: number): number {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  // About the size of a prepay request's signing string.
  const message = Buffer.from(
    `POST\n/v3/pay/transactions/native\n1700000000\n${'N'.repeat(32)}\n${'{}'.repeat(150)}\n`,
  );
  for (let i = 0; i < 20; i++) sign('RSA-SHA256', message, privateKey);
  let signatures = 0;
  const started = performance.now();
  let elapsed = 0;
  while (elapsed < ms) {
    for (let i = 0; i < 20; i++) sign('RSA-SHA256', message, privateKey);
    signatures += 20;
    elapsed = performance.now() - started;
  }
  return signatures / (elapsed / 1000);
}

export async function benchWxpayPrepay(
  wxpayUrl: string,
  calls: number,
  concurrency: number,
  signMs: number,
): Promise<WxpayPrepayResult> {
  const merchant = await registerWxpayMerchant(wxpayUrl);
  const provider = createWxpayProvider({
    merchants: [
      {
        merchantId: 'bench',
        mchId: merchant.mchId,
        appId: merchant.appId,
        serialNo: merchant.serialNo,
        privateKey: merchant.privateKeyPem,
        apiV3Key: merchant.apiV3Key,
        wechatpayPublicKey: merchant.wechatpayPublicKey,
        baseUrl: wxpayUrl,
        timeoutMs: 10_000,
        // A retried call would count twice as one: a benchmark call either works or fails the run.
        retry: { maxAttempts: 1 },
      },
    ],
  });
  const run = randomBytes(3).toString('hex');
  const prepay = (prefix: string) => (i: number) =>
    provider.createPayment({
      merchantId: 'bench',
      outTradeNo: `${prefix}${run}${i.toString().padStart(7, '0')}`,
      totalFen: 100 + (i % 1000),
      subject: 'bench native prepay',
      scene: 'native',
      notifyUrl: 'http://127.0.0.1:9/notify/wxpay/bench',
    });
  await runConcurrently(Math.min(50, calls), concurrency, prepay('WARM'));
  const load = await runConcurrently(calls, concurrency, prepay('WXB'));
  const signsPerSecond = measureRsaSignRate(signMs);
  return {
    calls,
    concurrency,
    callsPerSecond: load.perSecond,
    p50Ms: load.p50Ms,
    p99Ms: load.p99Ms,
    signsPerSecond,
    ratio: load.perSecond / signsPerSecond,
  };
}
