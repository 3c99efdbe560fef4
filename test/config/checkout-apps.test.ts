import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadServiceConfig } from '../../src/config/service-config.ts';

function load(app: Record<string, unknown>, env: Record<string, string> = {}) {
  const path = join(mkdtempSync(join(tmpdir(), 'vkpay-apps-')), 'config.json');
  writeFileSync(
    path,
    JSON.stringify({ apps: [{ appId: 'a1', merchantId: 'm1', secret: 'env:APP_SECRET', ...app }] }),
  );
  return () => loadServiceConfig({ env: { APP_SECRET: 's'.repeat(40), ...env }, configPath: path });
}
const errorOf = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    return (error as Error).message;
  }
  return '';
};

describe('an API app names its origins and its payee', () => {
  it('reads corsOrigins and payee', () => {
    const config = load({
      corsOrigins: ['https://shop.example.com', 'http://localhost:5173'],
      payee: { name: '示例商店', logoUrl: 'https://shop.example.com/logo.png' },
    })();
    expect(config.apps[0]).toMatchObject({
      corsOrigins: ['https://shop.example.com', 'http://localhost:5173'],
      payee: { name: '示例商店', logoUrl: 'https://shop.example.com/logo.png' },
    });
  });

  it('refuses what is not exactly an origin, an empty or long name, a logo that is not a URL', () => {
    for (const origin of [
      'https://shop.example.com/',
      'https://shop.example.com/pay',
      '*',
      'ftp://x.example',
      'shop.example.com',
    ])
      expect(errorOf(load({ corsOrigins: [origin] }))).toContain('apps[0].corsOrigins[0] must be an origin');
    expect(errorOf(load({ corsOrigins: 'https://shop.example.com' }))).toContain('must be a list of origins');
    expect(errorOf(load({ payee: { name: '' } }))).toContain('apps[0].payee.name');
    expect(errorOf(load({ payee: { name: 'x'.repeat(65) } }))).toContain('apps[0].payee.name');
    expect(errorOf(load({ payee: { name: 'Shop', logoUrl: 'javascript:alert(1)' } }))).toContain(
      'apps[0].payee.logoUrl',
    );
    // Production: https only, for the origins and the logo.
    const production = { VKPAY_ENV: 'production' };
    expect(errorOf(load({ corsOrigins: ['http://shop.example.com'] }, production))).toContain(
      'apps[0].corsOrigins[0] must be https:// in production',
    );
    expect(
      errorOf(load({ payee: { name: 'Shop', logoUrl: 'http://shop.example.com/logo.png' } }, production)),
    ).toContain('apps[0].payee.logoUrl must be an https URL');
  });
});
