/** What every operation gets for one merchant's app: its settings, its transport, the clock. */
import type { DouyinMerchant } from './config.ts';
import type { DouyinTransport } from './transport.ts';

export interface DouyinContext {
  merchant: DouyinMerchant;
  transport: DouyinTransport;
  now: () => number;
}
