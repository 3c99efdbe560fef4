import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  BUDGET_BYTES,
  buildClient,
  bundleClient,
  CLIENTS,
  declareClient,
} from '../../scripts/build-client.ts';
import { bundleCashierScript } from '../../src/http/checkout-assets.ts';

describe('what the browser downloads', () => {
  it('the client SDK stays under 15 KB gzipped and uses no Node built-ins', async () => {
    const { bytes, gzipBytes } = await buildClient();
    expect(bytes).toBeGreaterThan(1000);
    expect(gzipBytes).toBeLessThan(BUDGET_BYTES);
  });

  it('the cashier script bundles for the browser, small, with no network address of its own', async () => {
    const script = await bundleCashierScript();
    expect(gzipSync(script).byteLength).toBeLessThan(BUDGET_BYTES);
    expect(script).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
  });
});

describe('what a uni-app project and a WeChat mini program take', () => {
  it.each(['uni-app', 'wx-miniprogram'] as const)(
    'the %s bundle is small, needs nothing, and the committed one is a fresh build',
    async (name) => {
      const built = await bundleClient(name, false);
      expect(built.gzipBytes).toBeLessThan(BUDGET_BYTES);
      const text = new TextDecoder().decode(built.code);
      expect(text).not.toMatch(/\brequire\(|\bimport\s*["'(]|from\s*["']/);
      // The runtimes are ES2017: no optional chaining or object spread left in the bundle.
      expect(text).not.toMatch(/\?\.[a-zA-Z_$(]/);
      const committed = readFileSync(built.file);
      expect(Buffer.compare(committed, Buffer.from(built.code)), 'run npm run build:client').toBe(0);
    },
  );

  it.each(['uni-app', 'wx-miniprogram'] as const)(
    'the %s type declarations are committed as a fresh emit makes them',
    (name) => {
      const declared = declareClient(name, false);
      expect(declared.size).toBeGreaterThan(5);
      for (const [file, text] of declared) {
        expect(text, file).not.toMatch(/from '\.{1,2}\/[^']*\.ts'/);
        expect(readFileSync(file, 'utf8'), `${file}: run npm run build:client`).toBe(text);
      }
    },
    30_000,
  );

  it('the mini program bundle loads as CommonJS and the uni-app one as ESM', async () => {
    const wx = createRequire(import.meta.url)(`../../${CLIENTS['wx-miniprogram'].out}`);
    expect(typeof wx.createWxPayClient).toBe('function');
    expect(wx.describeForBuyer(40007, 'zh').title).toBe('余额不足');
    const uni = await import(`../../${CLIENTS['uni-app'].out}`);
    expect(typeof uni.createUniPayClient).toBe('function');
    expect(uni.uniContext({ getSystemInfoSync: () => ({ uniPlatform: 'web', deviceType: 'pc' }) })).toEqual({
      platform: 'web',
      isPC: true,
    });
  });
});
