/** For gateways without payment codes (付款码): the micropay scene is refused before any call. */
import { PayError } from '../core/errors.ts';
import type { PaymentOrder } from './provider.ts';

export function refusePaymentCode(provider: string, order: Pick<PaymentOrder, 'scene'>): void {
  if (order.scene === 'micropay') {
    throw new PayError(40001, {
      field: 'scene',
      message: `${provider} does not take payment codes (scene micropay); use another scene or provider`,
    });
  }
}
