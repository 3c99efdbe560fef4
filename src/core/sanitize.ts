/**
 * Removes what must never be stored or logged (keys, card data, passwords, signatures) from a payload
 * before it reaches payment_errors, payment_logs or a log line.
 */
import { REDACTED, removeCardData } from './card-data.ts';

const SENSITIVE_KEY =
  /(card_?(number|no)|cvv|cvn|expiry|private_?key|secret|password|passwd|api_?v?3?_?key|apikey|session_?key|app_?key|token|authorization|sign(ature)?$|cipher_?text|id_?card|bank_?(card|account))/i;

export { REDACTED };

export function isSensitiveKey(key: string): boolean {
  return SENSITIVE_KEY.test(key);
}

/**
 * A deep copy of `value` with every sensitive field replaced by "[redacted]" and card data removed
 * by what it is (card numbers masked, security codes and expiry dates beside them removed).
 */
export function sanitize(value: unknown): unknown {
  return removeCardData(redactSensitiveKeys(value));
}

function redactSensitiveKeys(value: unknown, depth = 0): unknown {
  if (depth > 8) return '[too deep]';
  if (Array.isArray(value)) return value.map((item) => redactSensitiveKeys(item, depth + 1));
  if (value !== null && typeof value === 'object') {
    if (value instanceof Date) return value.toISOString();
    const copy: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      copy[key] = isSensitiveKey(key) ? REDACTED : redactSensitiveKeys(item, depth + 1);
    }
    return copy;
  }
  if (typeof value === 'string' && /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(value)) return REDACTED;
  return value;
}
