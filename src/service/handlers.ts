/**
 * Business handlers, one per order type. A handler runs inside the transaction that marks the
 * order paid, with that transaction: its writes commit together with the payment or not at all.
 */
import type { Transaction } from 'kysely';
import { PayError } from '../core/errors.ts';
import { BUILTIN_ORDER_TYPES, isOrderTypeName } from '../core/validate.ts';
import type { PaymentResult } from '../providers/provider.ts';
import type { Database } from '../store/schema.ts';
import type { Order } from './model.ts';

export interface HandlerContext {
  /** The order as it is after the payment was applied (status SUCCESS). */
  order: Order;
  /** The merchant's own data given when the payment was created. */
  custom: Record<string, unknown>;
  /** The transaction marking the order paid; use it for the business writes. */
  tx: Transaction<Database>;
  result: PaymentResult;
}

/**
 * Returns nothing or true when the business work succeeded. Throwing or returning false rolls the
 * payment back to unpaid, and the gateway's retry (or the next query) runs it again.
 */
export type BusinessHandler = (context: HandlerContext) => unknown | Promise<unknown>;

export class HandlerRegistry {
  private readonly handlers = new Map<string, BusinessHandler>();
  private readonly extraTypes = new Set<string>();

  /** Registers the handler for an order type: recharge, goods, vip, custom, or a type of your own. */
  register(type: string, handler: BusinessHandler): this {
    if (!isOrderTypeName(type)) {
      throw new PayError(40001, {
        field: 'type',
        message: `order type must match [a-z][a-z0-9_-]{0,31}: ${type}`,
      });
    }
    this.handlers.set(type, handler);
    if (!(BUILTIN_ORDER_TYPES as readonly string[]).includes(type)) this.extraTypes.add(type);
    return this;
  }

  get(type: string): BusinessHandler | undefined {
    return this.handlers.get(type);
  }

  /** Every type an order may have: the built-in four and each registered type. */
  orderTypes(): string[] {
    return [...BUILTIN_ORDER_TYPES, ...this.extraTypes];
  }
}
