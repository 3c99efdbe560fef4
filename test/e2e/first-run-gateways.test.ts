import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoKeys } from '../../src/cli/demo-merchants.ts';
import { gatewaySteps } from '../../src/cli/guide.ts';
import { type RunningService, serve } from '../../src/cli/serve.ts';
import { loadServiceConfig } from '../../src/config/service-config.ts';
import { eventually } from './harness.ts';

const run = promisify(execFile);

/** The shell commands of the guide's step `number`: its lines from the first command on. */
function commandsOf(guide: string, number: number): string {
  const step = guide.split(/^ {2}(?=\d+\. )/m).find((block) => block.startsWith(`${number}. `));
  if (!step) throw new Error(`the guide has no step ${number}`);
  const lines = step.split('\n');
  const first = lines.findIndex((line) => /^\s*(curl |[A-Z_]+=\$\(curl )/.test(line));
  expect(first).toBeGreaterThan(0);
  return lines.slice(first).join('\n');
}

describe('the first-run guide on the mini program and store emulators', () => {
  let service: RunningService;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vkpay-first-gw-'));
    const config = loadServiceConfig({
      env: { VKPAY_PORT: '0', VKPAY_DATA_DIR: join(dir, 'data') },
      cwd: dir,
    });
    service = await serve({ ...config, syncIntervalMs: 0 }, pino({ level: 'silent' }));
  });
  afterAll(async () => {
    await service?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const orderOf = async (outTradeNo: string) => {
    const response = await fetch(`${service.url}/api/payments/${outTradeNo}`);
    return ((await response.json()) as { data?: { orderPaid: boolean; order: Record<string, unknown> } })
      .data;
  };
  /** Runs the step's commands as printed, in bash, and returns what they wrote. */
  const runStep = async (number: number) => {
    const script = `set -euo pipefail\n${commandsOf(gatewaySteps(service.url), number)}`;
    const { stdout } = await run('bash', ['-c', script], { timeout: 20_000 });
    return stdout;
  };

  it.each([
    [6, 'FIRST0003', 'douyin'],
    [7, 'FIRST0004', 'wxpay-virtual'],
    [8, 'FIRST0005', 'appleiap'],
  ])('step %i pays %s through %s, as printed', async (step, outTradeNo, provider) => {
    const printed = await runStep(step);
    // The last command queries the order; every answer before it was a success.
    expect(printed).not.toMatch(/"code":4\d{4}|"error"|errCode|err_no":[1-9]/);
    const paid = await eventually(
      () => orderOf(outTradeNo),
      (data) => data?.order.status === 'SUCCESS',
    );
    expect(paid).toMatchObject({ orderPaid: true, order: { status: 'SUCCESS', provider, total_fee: 600 } });
  });
});

describe('the demo keys file', () => {
  it('adds the new gateways to a file that lacks them, keeping the keys it has', () => {
    const folder = mkdtempSync(join(tmpdir(), 'vkpay-demo-keys-'));
    try {
      mkdirSync(folder, { recursive: true });
      const older = {
        version: 1,
        wxpay: { privateKeyPem: 'WX-PEM', apiV3Key: 'k'.repeat(32), serialNo: 'S1' },
        alipay: { privateKeyPem: 'ALI-PEM' },
        apiAppSecret: 'app-secret',
        webhookSecret: 'whsec_x',
      };
      writeFileSync(join(folder, 'demo.json'), JSON.stringify(older));
      const keys = demoKeys(folder);
      expect(keys).toMatchObject(older);
      expect(keys.appleiap.privateKeyPem).toContain('PRIVATE KEY');
      expect(keys.douyin.privateKeyPem).toContain('PRIVATE KEY');
      expect(keys.wxpayVirtual.encodingAesKey).toMatch(/^[A-Za-z0-9+/]{43}$/);
      expect(JSON.parse(readFileSync(join(folder, 'demo.json'), 'utf8'))).toEqual(keys);
      expect(demoKeys(folder)).toEqual(keys);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
