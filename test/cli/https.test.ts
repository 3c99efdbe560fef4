import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Agent, fetch } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { generateKeys } from '../../src/cli/keys.ts';
import { serve } from '../../src/cli/serve.ts';
import { loadServiceConfig } from '../../src/config/service-config.ts';

const dir = mkdtempSync(join(tmpdir(), 'vkpay-tls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('serving HTTPS directly', () => {
  it('answers over TLS, where HTTPS is required', async () => {
    await generateKeys(join(dir, 'keys'));
    const base = loadServiceConfig({ env: { VKPAY_PORT: '0', VKPAY_DATA_DIR: 'memory' }, cwd: dir });
    const service = await serve(
      {
        ...base,
        syncIntervalMs: 0,
        tls: {
          cert: readFileSync(join(dir, 'keys', 'wxpay_apiclient_cert.pem'), 'utf8'),
          key: readFileSync(join(dir, 'keys', 'wxpay_apiclient_key.pem'), 'utf8'),
        },
        security: { ...base.security, requireHttps: true },
      },
      pino({ level: 'silent' }),
    );
    const dispatcher = new Agent({ connect: { rejectUnauthorized: false } });
    try {
      expect(service.url).toMatch(/^https:\/\//);
      const response = await fetch(`${service.url}/api/payments/NOSUCHORDER`, { dispatcher });
      expect(response.status).toBe(404);
      expect(((await response.json()) as { code: number }).code).toBe(40005);
      expect(response.headers.get('strict-transport-security')).toBeTruthy();
    } finally {
      await dispatcher.close();
      await service.close();
    }
  });
});
