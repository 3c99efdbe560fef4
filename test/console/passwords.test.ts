import { describe, expect, it } from 'vitest';
import {
  CURRENT_PARAMETERS,
  generatePassword,
  hashPassword,
  verifyPassword,
} from '../../src/service/console/passwords.ts';

describe('console passwords (scrypt)', () => {
  it('hashes with N=2^15 r=8 p=1 and a salt of its own, and verifies only the right password', async () => {
    const first = await hashPassword('correct horse battery staple');
    const second = await hashPassword('correct horse battery staple');
    expect(first).toMatch(/^scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
    expect(first).not.toBe(second);
    expect(await verifyPassword('correct horse battery staple', first)).toEqual({
      ok: true,
      needsRehash: false,
    });
    expect(await verifyPassword('correct horse battery stapl', first)).toEqual({
      ok: false,
      needsRehash: false,
    });
    expect(await verifyPassword('', first)).toMatchObject({ ok: false });
  });

  it('verifies a hash made under older parameters and asks for a new one', async () => {
    const old = await hashPassword('an older password', { ln: 14, r: 8, p: 1 });
    expect(old).toContain('ln=14');
    expect(await verifyPassword('an older password', old)).toEqual({ ok: true, needsRehash: true });
    expect(await verifyPassword('not it at all', old)).toEqual({ ok: false, needsRehash: false });
    expect(CURRENT_PARAMETERS).toEqual({ ln: 15, r: 8, p: 1 });
  });

  it('refuses a stored value that is not a hash of this format', async () => {
    for (const stored of ['', 'plain', 'scrypt$ln=15,r=8,p=1$$', 'bcrypt$2b$10$abc'])
      expect(await verifyPassword('plain', stored)).toEqual({ ok: false, needsRehash: false });
  });

  it('generates 20-character passwords from an alphabet without look-alikes', () => {
    const passwords = new Set(Array.from({ length: 50 }, generatePassword));
    expect(passwords.size).toBe(50);
    for (const password of passwords) expect(password).toMatch(/^[a-km-zA-HJ-NP-Z2-9]{20}$/);
  });
});
