/** A merchant and the WeChat Pay side's keys, generated once per test file. */
import type { WxpayMerchantConfig } from '../../../../src/providers/wxpay/config.ts';
import { createWxpayProvider, type WxpayProviderOptions } from '../../../../src/providers/wxpay/index.ts';
import { type RsaPair, rsaPair } from './keys.ts';
import type { SigningKey } from './signer.ts';

export const MCH_ID = '1900000109';
export const APP_ID = 'wx8888888888888888';
export const API_V3_KEY = 'vkpayTestApiV3Key0123456789abcde';
export const MERCHANT_SERIAL = '5F1C72E2A8931B72A2E13AF8DEE92471EB397115';
export const PUBLIC_KEY_ID = 'PUB_KEY_ID_0114232134912410000000000000TEST';

export interface Parties {
  merchant: RsaPair;
  wechatpay: RsaPair;
  /** The WeChat Pay public-key-mode signer. */
  signer: SigningKey;
}

export function parties(): Parties {
  const wechatpay = rsaPair();
  return {
    merchant: rsaPair(),
    wechatpay,
    signer: { serial: PUBLIC_KEY_ID, privateKey: wechatpay.privateKey },
  };
}

export function merchantConfig(
  p: Parties,
  overrides: Partial<WxpayMerchantConfig> = {},
): WxpayMerchantConfig {
  return {
    merchantId: 'm1',
    mchId: MCH_ID,
    appId: APP_ID,
    serialNo: MERCHANT_SERIAL,
    privateKey: p.merchant.privatePem,
    apiV3Key: API_V3_KEY,
    wechatpayPublicKey: { id: PUBLIC_KEY_ID, pem: p.wechatpay.publicPem },
    timeoutMs: 2_000,
    retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
    ...overrides,
  };
}

export function provider(
  p: Parties,
  baseUrl: string,
  clock: { now: number },
  overrides: Partial<WxpayMerchantConfig> = {},
  options: Partial<WxpayProviderOptions> = {},
) {
  return createWxpayProvider({
    merchants: [merchantConfig(p, { baseUrl, ...overrides })],
    now: () => clock.now,
    ...options,
  });
}
