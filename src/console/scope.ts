/** The merchants an operator may see, and the checks every console query starts with. */
import { PayError } from '../core/errors.ts';

/** undefined: every merchant; an empty list: none. */
export type MerchantScope = readonly string[] | undefined;

export function checkScope(merchantIds: unknown): MerchantScope {
  if (merchantIds === undefined) return undefined;
  if (!Array.isArray(merchantIds) || merchantIds.some((id) => typeof id !== 'string' || id.length === 0))
    throw new PayError(40001, {
      field: 'merchantIds',
      message: 'merchantIds must be a list of merchant ids',
    });
  return merchantIds as string[];
}

export function inScope(scope: MerchantScope, merchantId: string): boolean {
  return scope === undefined || scope.includes(merchantId);
}

/** A Date from a Date or an ISO text; 40001 for anything else. */
export function checkTime(value: unknown, field: string): Date | undefined {
  if (value === undefined || value === null) return undefined;
  const time = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : null;
  if (time === null || Number.isNaN(time.getTime()))
    throw new PayError(40001, { field, message: `${field} must be a date and time` });
  return time;
}

export function checkText(value: unknown, field: string, max = 128): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' || value.length > max)
    throw new PayError(40001, { field, message: `${field} must be text of at most ${max} characters` });
  return value;
}

export function checkFen(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
    throw new PayError(40001, { field, message: `${field} must be a whole number of fen, 0 or more` });
  return value;
}

/** A list of values each one of `allowed`; an empty list filters nothing. */
export function checkList<T extends string>(
  value: unknown,
  field: string,
  allowed?: readonly T[],
): T[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string' || item.length > 64))
    throw new PayError(40001, { field, message: `${field} must be a list of names` });
  if (allowed) {
    const unknown = value.find((item) => !allowed.includes(item as T));
    if (unknown !== undefined)
      throw new PayError(40001, {
        field,
        message: `${field}: ${unknown} is not one of ${allowed.join(', ')}`,
      });
  }
  return value.length === 0 ? undefined : (value as T[]);
}

export const iso = (value: Date | string | null): string | null =>
  value === null ? null : new Date(value).toISOString();
