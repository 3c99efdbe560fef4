import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { AppleGateway, appleSandboxPlugin } from '../../../src/sandbox/appleiap/index.ts';

describe('the App Store emulator mounted under a prefix', () => {
  it('answers its control API and both Server API hosts under /sandbox/appleiap', async () => {
    const app = Fastify();
    await app.register(appleSandboxPlugin(await AppleGateway.create()), { prefix: '/sandbox/appleiap' });
    const root = await app.inject({ method: 'GET', url: '/sandbox/appleiap/sandbox/root-certificate' });
    expect(root.statusCode).toBe(200);
    expect(root.body).toContain('BEGIN CERTIFICATE');
    for (const host of ['/sandbox/appleiap', '/sandbox/appleiap/storekit-sandbox']) {
      const unauthenticated = await app.inject({ method: 'GET', url: `${host}/inApps/v1/transactions/1` });
      expect(unauthenticated.statusCode, host).toBe(401);
    }
    const refused = await app.inject({
      method: 'POST',
      url: '/sandbox/appleiap/sandbox/apps',
      payload: { bundleId: 'com.example', products: [] },
    });
    expect(refused.statusCode).toBe(400);
    await app.close();
  });
});
