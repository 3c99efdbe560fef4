/**
 * alipay.trade.precreate calls per second through our Alipay provider against the emulator
 * in another process, beside the official alipay-sdk making the same calls against the same
 * emulator in the same run, with the same concurrency and response signatures verified by both.
 */
import { randomBytes } from 'node:crypto';
import { AlipaySdk } from 'alipay-sdk';
import { createAlipayProvider } from '../src/providers/alipay/index.ts';
import { registerAlipayApp } from './support/emulators.ts';
import { type LoadResult, runConcurrently } from './support/load.ts';

export interface AlipayPrecreateResult {
  calls: number;
  concurrency: number;
  ours: LoadResult;
  sdk: LoadResult;
  /** Our calls per second over the SDK's. */
  ratio: number;
}

const NOTIFY_URL = 'http://127.0.0.1:9/notify/alipay/bench';

export async function benchAlipayPrecreate(
  gatewayUrl: string,
  controlUrl: string,
  calls: number,
  concurrency: number,
): Promise<AlipayPrecreateResult> {
  const app = await registerAlipayApp(controlUrl);
  const provider = createAlipayProvider({
    merchants: [
      {
        merchantId: 'bench',
        appId: app.appId,
        privateKey: app.privateKeyPem,
        alipayPublicKey: app.alipayPublicKeyPem,
        sellerId: app.sellerId,
        baseUrl: gatewayUrl,
        timeoutMs: 10_000,
        retry: { maxAttempts: 1 },
      },
    ],
  });
  const sdk = new AlipaySdk({
    appId: app.appId,
    privateKey: app.privateKeyPem,
    alipayPublicKey: app.alipayPublicKeyBase64,
    gateway: gatewayUrl,
    timeout: 10_000,
  });
  const run = randomBytes(3).toString('hex');
  const outTradeNo = (prefix: string, i: number) => `${prefix}${run}${i.toString().padStart(7, '0')}`;
  const ours = (prefix: string) => (i: number) =>
    provider.createPayment({
      merchantId: 'bench',
      outTradeNo: outTradeNo(prefix, i),
      totalFen: 100 + (i % 1000),
      subject: 'bench precreate',
      scene: 'native',
      notifyUrl: NOTIFY_URL,
    });
  const official = (prefix: string) => async (i: number) => {
    const answer = await sdk.exec(
      'alipay.trade.precreate',
      {
        notifyUrl: NOTIFY_URL,
        bizContent: {
          outTradeNo: outTradeNo(prefix, i),
          totalAmount: ((100 + (i % 1000)) / 100).toFixed(2),
          subject: 'bench precreate',
        },
      },
      { validateSign: true },
    );
    if (answer.code !== '10000' || typeof answer.qrCode !== 'string')
      throw new Error(`alipay-sdk precreate answered ${JSON.stringify(answer).slice(0, 300)}`);
  };
  const warm = Math.min(50, calls);
  await runConcurrently(warm, concurrency, ours('WO'));
  await runConcurrently(warm, concurrency, official('WS'));
  const oursResult = await runConcurrently(calls, concurrency, ours('AO'));
  const sdkResult = await runConcurrently(calls, concurrency, official('AS'));
  return {
    calls,
    concurrency,
    ours: oursResult,
    sdk: sdkResult,
    ratio: oursResult.perSecond / sdkResult.perSecond,
  };
}
