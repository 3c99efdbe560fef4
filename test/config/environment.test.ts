import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.ts';
import { loadServiceConfig } from '../../src/config/service-config.ts';

const dir = mkdtempSync(join(tmpdir(), 'vkpay-env-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function refusal(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

describe('the environment name', () => {
  it('is development without NODE_ENV or VKPAY_ENV, and NODE_ENV spellings other tools use map to ours', () => {
    expect(loadConfig({}).env).toBe('development');
    expect(loadConfig({ NODE_ENV: '' }).env).toBe('development');
    expect(loadConfig({ NODE_ENV: 'development' }).env).toBe('development');
    expect(loadConfig({ NODE_ENV: 'test' }).env).toBe('testing');
    expect(loadConfig({ NODE_ENV: 'testing' }).env).toBe('testing');
    expect(loadConfig({ NODE_ENV: 'production' }).env).toBe('production');
  });

  it('refuses any other NODE_ENV, naming the accepted values and VKPAY_ENV', () => {
    for (const name of ['prod', 'Production', 'staging', 'dev', 'PRODUCTION', ' production', 'constructor']) {
      const message = refusal({ NODE_ENV: name });
      expect(message).toContain(
        `NODE_ENV must be one of development, test, testing, production, got ${JSON.stringify(name)}`,
      );
      expect(message).toContain('VKPAY_ENV (development, testing, production)');
    }
  });

  it('takes VKPAY_ENV alone when set: exactly development, testing or production', () => {
    expect(loadConfig({ VKPAY_ENV: 'production', NODE_ENV: 'staging' }).env).toBe('production');
    expect(loadConfig({ VKPAY_ENV: 'testing', NODE_ENV: 'production' }).env).toBe('testing');
    for (const name of ['prod', 'Production', 'staging', 'test']) {
      expect(refusal({ VKPAY_ENV: name })).toBe(
        `VKPAY_ENV must be one of development, testing, production, got ${JSON.stringify(name)}`,
      );
    }
  });

  it('refuses an unknown env in the config file, naming the file', () => {
    const path = join(dir, 'staging.json');
    writeFileSync(path, JSON.stringify({ env: 'staging' }));
    expect(() => loadServiceConfig({ env: {}, configPath: path })).toThrow(
      `env in ${path} must be one of development, testing, production, got "staging"`,
    );
    writeFileSync(path, JSON.stringify({ env: 'testing' }));
    expect(loadServiceConfig({ env: { NODE_ENV: 'staging' }, configPath: path }).env).toBe('testing');
  });
});
