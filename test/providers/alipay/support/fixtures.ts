/** A merchant and the Alipay side's keys, generated once per test file. */
import type { AlipayMerchantConfig } from '../../../../src/providers/alipay/config.ts';
import { type AlipayProviderOptions, createAlipayProvider } from '../../../../src/providers/alipay/index.ts';
import type { PaymentOrder } from '../../../../src/providers/provider.ts';
import { type RsaPair, rsaPair } from './keys.ts';

export const APP_ID = '2021000000000000';
export const SELLER_ID = '2088000000000001';
/** 2024-01-01T04:00:00Z = 2024-01-01 12:00:00 in Beijing. */
export const NOON_BEIJING = Date.UTC(2024, 0, 1, 4, 0, 0);

export interface Parties {
  app: RsaPair;
  alipay: RsaPair;
}

export function parties(): Parties {
  return { app: rsaPair(), alipay: rsaPair() };
}

export function merchantConfig(
  p: Parties,
  overrides: Partial<AlipayMerchantConfig> = {},
): AlipayMerchantConfig {
  return {
    merchantId: 'm1',
    appId: APP_ID,
    privateKey: p.app.privatePem,
    alipayPublicKey: p.alipay.publicPem,
    timeoutMs: 2_000,
    retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
    ...overrides,
  };
}

export function provider(
  p: Parties,
  baseUrl: string,
  overrides: Partial<AlipayMerchantConfig> = {},
  options: Partial<AlipayProviderOptions> = {},
) {
  return createAlipayProvider({
    merchants: [merchantConfig(p, { baseUrl, ...overrides })],
    now: () => NOON_BEIJING,
    ...options,
  });
}

export function order(overrides: Partial<PaymentOrder> = {}): PaymentOrder {
  return {
    merchantId: 'm1',
    outTradeNo: 'T20240101000001',
    totalFen: 8880,
    subject: 'VIP 会员',
    scene: 'native',
    notifyUrl: 'https://pay.example.com/notify/alipay/m1',
    returnUrl: 'https://shop.example.com/paid',
    ...overrides,
  };
}

export async function payError(promise: Promise<unknown> | (() => unknown)) {
  const { PayError } = await import('../../../../src/core/errors.ts');
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (error) {
    if (error instanceof PayError) return error;
    throw error;
  }
  throw new Error('expected a PayError');
}
