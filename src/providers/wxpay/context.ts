/** What every operation gets for one merchant: its settings, its signed transport, its verifier keys. */
import type { WxpayMerchant } from './config.ts';
import type { VerifierKeyStore } from './keys.ts';
import type { WxpayPartner } from './partner.ts';
import type { WxpayTransport } from './transport.ts';

export interface WxpayContext {
  merchant: WxpayMerchant;
  transport: WxpayTransport;
  keys: VerifierKeyStore;
  now: () => number;
  /** Set for a sub-merchant: `merchant` then holds its service provider's keys and sp_mchid. */
  partner?: WxpayPartner;
}

/** The mchid that owns this context's orders: the sub_mchid in partner mode, else the mchid. */
export const ownMchId = (context: WxpayContext): string =>
  context.partner?.subMchId ?? context.merchant.mchId;

/** A path segment as sent: our ids are [0-9A-Za-z_-*|@], but a stray character must not alter the path. */
export const segment = (value: string): string => encodeURIComponent(value);
