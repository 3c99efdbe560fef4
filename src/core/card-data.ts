/**
 * Card data recognised by what it is, not by the name a merchant gives its field: numbers that pass
 * the Luhn check with a card's length and a card scheme's leading digits are masked to their first 6
 * and last 4 digits (what PCI DSS allows to be shown), and security codes and expiry dates beside
 * them are removed. Used on what is stored as free text and in `custom`, never on identifiers.
 */
/** What a removed value is replaced with, in stored rows and logs. */
export const REDACTED = '[redacted]';

/** The Luhn (mod 10) check of a string of digits. */
export function passesLuhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let digit = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/**
 * Leading digits of the schemes: Visa 4, Mastercard 51-55 and 2221-2720, Amex 34/37, Diners and JCB
 * 30-39, Discover, UnionPay and Maestro 5x/6x. Date-prefixed order numbers (20xx...), millisecond
 * timestamps (1...) and phone numbers with a country code (86...) start elsewhere.
 */
function hasCardPrefix(digits: string): boolean {
  const first = digits[0];
  if (first === '3' || first === '4' || first === '5' || first === '6') return true;
  const four = Number(digits.slice(0, 4));
  return four >= 2221 && four <= 2720;
}

/** True when `digits` (digits only) is shaped like a payment card number. */
export function isCardNumber(digits: string): boolean {
  return (
    /^\d{13,19}$/.test(digits) && hasCardPrefix(digits) && passesLuhn(digits) && !/^(\d)\1+$/.test(digits)
  );
}

/** 4111111111111111 -> 411111******1111: the first 6 and last 4 digits, the rest starred. */
export function maskCardNumber(digits: string): string {
  return `${digits.slice(0, 6)}${'*'.repeat(digits.length - 10)}${digits.slice(-4)}`;
}

/** Digits in groups separated by single spaces or dashes: where card numbers are looked for. */
const DIGIT_RUN = /\d+(?:[ -]\d+)*/g;

/**
 * The run with its card numbers masked: a group of 13-19 digits, or groups as cards are printed
 * (4-4-4-4, 4-6-5, 4-4-4-4-3) from a group of four, the longest that makes a card number.
 */
function maskRun(run: string): string {
  const groups = run.split(/[ -]/);
  const separators = run.match(/[ -]/g) ?? [];
  let out = '';
  let i = 0;
  while (i < groups.length) {
    let card: { digits: string; last: number } | null = null;
    const group = groups[i]!;
    if (group.length >= 13) {
      if (isCardNumber(group)) card = { digits: group, last: i };
    } else if (group.length === 4) {
      for (let j = Math.min(i + 4, groups.length - 1); j > i && !card; j--) {
        const digits = groups.slice(i, j + 1).join('');
        if (isCardNumber(digits)) card = { digits, last: j };
      }
    }
    const last = card ? card.last : i;
    out += card ? maskCardNumber(card.digits) : group;
    if (last < groups.length - 1) out += separators[last];
    i = last + 1;
  }
  return out;
}

/** The text with every card number in it masked. */
export function maskCardNumbers(text: string): string {
  if (!/\d{4}/.test(text)) return text;
  return text.replace(DIGIT_RUN, (run) => (run.length < 13 ? run : maskRun(run)));
}

function snakeCase(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[-\s.]+/g, '_')
    .toLowerCase();
}

/** Names of a card number field: its value is masked when it is a card number, removed otherwise. */
const CARD_KEY =
  /^(pan|card|cc|ccn|cc_?(num|number|no)|(credit|debit|bank|payment)_?card(_?(num|number|no))?|card_?(num|number|no)|primary_?account_?number)$/;
/** Security codes: never stored, whatever their neighbours. */
const SECURITY_CODE_KEY =
  /^(card_?)?(cvc|cvc2|cvv|cvv2|cvn|cvn2|cav2|cid|csc|security_?code|verification_?(code|value))$/;
/** Expiry dates: removed when they sit beside a card number. */
const EXPIRY_KEY =
  /^(card_?)?(exp|exp_?date|exp_?month|exp_?year|expiry|expiry_?(date|month|year)|expiration(_?(date|month|year))?|expires|valid_?(thru|through|until))$/;
/** Identifiers kept as they are, even when they happen to pass the Luhn check. */
const IDENTIFIER_KEY =
  /(^id$|_id$|(trade|order|transaction|refund|txn|payment|request|trace|bill|invoice)_?(no|num|number|id)$)/;

export function isCardKey(key: string): boolean {
  return CARD_KEY.test(snakeCase(key));
}

export function isSecurityCodeKey(key: string): boolean {
  return SECURITY_CODE_KEY.test(snakeCase(key));
}

function holdsCardNumber(value: unknown): boolean {
  if (typeof value === 'number') return Number.isSafeInteger(value) && isCardNumber(String(value));
  return typeof value === 'string' && maskCardNumbers(value) !== value;
}

function masked(value: unknown): unknown {
  if (typeof value === 'string') return maskCardNumbers(value);
  if (typeof value === 'number' && Number.isSafeInteger(value) && isCardNumber(String(value)))
    return maskCardNumber(String(value));
  return value;
}

/**
 * A deep copy of `value` with card data removed: card numbers masked wherever they are (but not in
 * identifier fields), fields named for a card masked or removed, security codes removed, and expiry
 * dates removed when a card number is beside them.
 */
export function removeCardData(value: unknown, depth = 0, besideCard = false): unknown {
  if (depth > 8) return '[too deep]';
  if (Array.isArray(value)) return value.map((item) => removeCardData(item, depth + 1));
  if (value === null || typeof value !== 'object') return masked(value);
  const entries = Object.entries(value as Record<string, unknown>);
  const cardHere =
    besideCard ||
    entries.some(
      ([key, item]) =>
        (isCardKey(key) && item !== null && item !== '') ||
        (!IDENTIFIER_KEY.test(snakeCase(key)) && holdsCardNumber(item)),
    );
  const copy: Record<string, unknown> = {};
  for (const [key, item] of entries) {
    const name = snakeCase(key);
    if (SECURITY_CODE_KEY.test(name) || (cardHere && EXPIRY_KEY.test(name))) {
      copy[key] = REDACTED;
    } else if (CARD_KEY.test(name)) {
      copy[key] =
        item !== null && typeof item === 'object'
          ? removeCardData(item, depth + 1, true)
          : item === null || item === '' || typeof item === 'boolean'
            ? item
            : holdsWholeCard(item)
              ? masked(item)
              : REDACTED;
    } else if (IDENTIFIER_KEY.test(name) && (typeof item === 'string' || typeof item === 'number')) {
      copy[key] = item;
    } else {
      copy[key] = removeCardData(item, depth + 1);
    }
  }
  return copy;
}

/** The whole value is one card number (with or without separators). */
function holdsWholeCard(value: unknown): boolean {
  const digits = String(value).replace(/[ -]/g, '');
  return isCardNumber(digits);
}
