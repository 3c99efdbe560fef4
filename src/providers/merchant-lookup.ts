/** Finding a merchant's configured context inside a provider, with one error for an unknown id. */
import { PayError } from '../core/errors.ts';

export function merchantLookup<T>(
  provider: string,
  contexts: ReadonlyMap<string, T>,
): (merchantId: string) => T {
  return (merchantId) => {
    const context = contexts.get(merchantId);
    if (!context) {
      throw new PayError(40001, {
        field: 'merchantId',
        message: `no ${provider} merchant ${JSON.stringify(String(merchantId).slice(0, 64))} is configured`,
      });
    }
    return context;
  };
}
