import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BUDGET_BYTES, buildClient } from '../../scripts/build-client.ts';
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
