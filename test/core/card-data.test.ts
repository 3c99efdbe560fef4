import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  isCardNumber,
  maskCardNumber,
  maskCardNumbers,
  passesLuhn,
  REDACTED,
  removeCardData,
} from '../../src/core/card-data.ts';
import { sanitize } from '../../src/core/sanitize.ts';

/** Appends the Luhn check digit to `body`. */
function withCheckDigit(body: string): string {
  for (let digit = 0; digit <= 9; digit++) {
    if (passesLuhn(`${body}${digit}`)) return `${body}${digit}`;
  }
  throw new Error('unreachable');
}

const digits = (min: number, max: number) =>
  fc.array(fc.integer({ min: 0, max: 9 }), { minLength: min, maxLength: max }).map((d) => d.join(''));

/** Card numbers of every length the schemes use, with a scheme's leading digit. */
const cardNumber = fc
  .tuple(
    fc.constantFrom('4', '51', '55', '2221', '2720', '34', '37', '35', '62', '6011'),
    fc.integer({ min: 13, max: 19 }),
  )
  .chain(([prefix, length]) =>
    digits(length - prefix.length - 1, length - prefix.length - 1).map((rest) =>
      withCheckDigit(`${prefix}${rest}`),
    ),
  )
  .filter(isCardNumber);

/** A card number printed in groups of four with spaces or dashes. */
const printed = fc
  .tuple(cardNumber, fc.constantFrom(' ', '-'))
  .map(([number, separator]) => number.match(/.{1,4}/g)!.join(separator));

describe('card numbers in text', () => {
  it('masks a card number to its first 6 and last 4 digits', () => {
    expect(maskCardNumbers('4111111111111111')).toBe('411111******1111');
    expect(maskCardNumbers('pay with 4111 1111 1111 1111 please')).toBe('pay with 411111******1111 please');
    expect(maskCardNumbers('amex 3782-822463-10005.')).toBe('amex 378282*****0005.');
    expect(maskCardNumbers('unionpay 6212345678901232126')).toBe('unionpay 621234*********2126');
    expect(maskCardNumbers('4111 1111 1111 1111 2030')).toBe('411111******1111 2030');
  });

  it('never leaves a card number readable, however it is written in the text', () => {
    fc.assert(
      fc.property(fc.string(), fc.oneof(cardNumber, printed), fc.string(), (before, card, after) => {
        const number = card.replace(/[ -]/g, '');
        // Digits beside the card may extend it into a longer card number: that one is masked whole.
        const out = maskCardNumbers(`${before} ${card} ${after}`);
        expect(out.replace(/[ -]/g, '')).not.toContain(number);
        // Set apart on its own line, the card itself is what is masked.
        expect(maskCardNumbers(`${before}\n${card}\n${after}`)).toContain(maskCardNumber(number));
      }),
    );
  });

  it('shows at most the first 6 and the last 4 digits', () => {
    fc.assert(
      fc.property(cardNumber, (number) => {
        const out = maskCardNumber(number);
        expect(out).toHaveLength(number.length);
        expect(out.slice(0, 6)).toBe(number.slice(0, 6));
        expect(out.slice(-4)).toBe(number.slice(-4));
        expect(out.slice(6, -4)).toMatch(/^\*+$/);
      }),
    );
  });

  it('leaves order numbers, timestamps, phone numbers, amounts and transaction ids alone', () => {
    const kept = [
      '20240101123456789', // date-prefixed order number
      '1700000000000', // milliseconds since 1970
      '13800138000', // mobile number
      '+86 138 0013 8000',
      '8613800138000',
      '4200001234202401011234567890', // WeChat Pay transaction id (28 digits)
      '2024010122001412341234567890', // Alipay trade number
      'total 100000 fen',
      '4111111111111112', // fails the Luhn check
      '411111111111', // too short
      '41111111111111111111', // too long
      '0000000000000000',
    ];
    for (const text of kept) expect(maskCardNumbers(text)).toBe(text);
  });

  it('never changes text without a card number in it', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const out = maskCardNumbers(text);
        if (!out.includes('*')) expect(out).toBe(text);
      }),
    );
    fc.assert(
      fc.property(digits(1, 40), (run) => {
        const out = maskCardNumbers(run);
        expect(out === run || isCardNumber(run)).toBe(true);
      }),
    );
  });
});

describe('card data in custom', () => {
  it('masks or removes card fields whatever the merchant calls them', () => {
    const stored = sanitize({
      credit_card: '4111 1111 1111 1111',
      cc_number: '5555555555554444',
      pan: '4012888888881881',
      card: '378282246310005',
      cardNo: '4111111111111112',
      cvc: '123',
      cvv2: '456',
      security_code: '789',
      exp_date: '12/30',
      sku: 'A1',
    });
    expect(stored).toEqual({
      credit_card: '411111******1111',
      cc_number: '555555******4444',
      pan: '401288******1881',
      card: '378282*****0005',
      cardNo: REDACTED,
      cvc: REDACTED,
      cvv2: REDACTED,
      security_code: REDACTED,
      exp_date: REDACTED,
      sku: 'A1',
    });
  });

  it('finds a card number in any field and removes the expiry beside it', () => {
    expect(
      removeCardData({
        payer: { number: '4111111111111111', exp: '12/30', name: 'Zhang' },
        note: 'card 4111-1111-1111-1111',
        items: [{ ref: 5555555555554444 }],
        card: { number: '4111111111111111', expiry: '1230' },
      }),
    ).toEqual({
      payer: { number: '411111******1111', exp: REDACTED, name: 'Zhang' },
      note: 'card 411111******1111',
      items: [{ ref: '555555******4444' }],
      card: { number: '411111******1111', expiry: REDACTED },
    });
  });

  it('keeps expiry-like fields without a card number beside them, and identifiers', () => {
    const custom = {
      exp: 1_700_000_000,
      expires: '2030-01-01',
      order_id: '4111111111111111',
      out_trade_no: '4111111111111111',
      transaction_id: '4111111111111111',
      user_info: { phone: '13800138000', vip_card_level: 3 },
      amount: 100,
    };
    expect(removeCardData(custom)).toEqual(custom);
  });

  it('never leaves a card number in a stored object, at any depth', () => {
    const key = fc.constantFrom('note', 'payer', 'data', 'ref', 'x', 'value', 'memo');
    fc.assert(
      fc.property(
        cardNumber,
        fc.array(key, { minLength: 1, maxLength: 5 }),
        fc.boolean(),
        (number, path, asNumber) => {
          let value: unknown = asNumber && Number.isSafeInteger(Number(number)) ? Number(number) : number;
          for (const name of path) value = { [name]: value };
          expect(JSON.stringify(sanitize(value))).not.toContain(number);
        },
      ),
    );
  });
});
