/** What every operation gets for one merchant: its settings, its signed transport, its clock. */

import type { FetchLike } from '../network.ts';
import type { AlipayMerchant } from './config.ts';
import type { AlipayTransport } from './transport.ts';

export interface AlipayContext {
  merchant: AlipayMerchant;
  transport: AlipayTransport;
  now: () => number;
  /** For the one unsigned download (a bill's short-lived link). */
  fetch: FetchLike;
}
