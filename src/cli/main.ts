/** The `vk-pay` command. */
import { pino } from 'pino';
import { ConfigError } from '../config/config.ts';
import { loadServiceConfig } from '../config/service-config.ts';
import { createVkPay } from '../vk-pay.ts';
import { firstRunGuide } from './guide.ts';
import { startSandboxes } from './sandbox.ts';
import { serve } from './serve.ts';

const USAGE = `vk-pay: a self-hosted universal payment service

Usage:
  vk-pay serve      run the service (alias: start). Embedded PGlite in ./data and an in-memory
                    cache unless DATABASE_URL / REDIS_URL are set; in development the WeChat Pay
                    emulator is mounted under /sandbox, with a demo merchant on a first run
  vk-pay sandbox    run the WeChat Pay and Alipay emulators alone (VKPAY_SANDBOX_WXPAY_PORT,
                    default 8091; VKPAY_SANDBOX_ALIPAY_PORT, default 8092; VKPAY_SANDBOX_TIME_FACTOR)
  vk-pay migrate    open the store, apply pending migrations and exit
  vk-pay help       this text

Configuration: vk-pay.config.json in the working folder, or VKPAY_CONFIG=path; environment:
NODE_ENV / VKPAY_ENV (development, testing, production), VKPAY_HOST, VKPAY_PORT, VKPAY_PUBLIC_URL,
DATABASE_URL, REDIS_URL, VKPAY_DATA_DIR, VKPAY_MAX_FEN, VKPAY_DB_POOL_SIZE, VKPAY_LOG_LEVEL,
VKPAY_SANDBOX. Exit codes: 0 ok, 1 failure, 2 bad usage or configuration.
`;

async function main(argv: string[]): Promise<number> {
  const command = argv[0] ?? 'serve';
  if (command === 'help' || command === '--help' || command === '-h' || argv.includes('--help')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (command === 'sandbox') return runSandbox();
  if (command !== 'serve' && command !== 'start' && command !== 'migrate') {
    process.stderr.write(`unknown command: ${command}\n\n${USAGE}`);
    return 2;
  }
  const config = loadServiceConfig();
  const logger = pino({
    level: config.logLevel,
    base: { service: 'vk-pay' },
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers["x-vkpay-signature"]',
        '*.secret',
        '*.privateKey',
        '*.apiV3Key',
      ],
      censor: '[redacted]',
    },
  });
  if (command === 'migrate') {
    const vkPay = await createVkPay({ ...config, logger });
    await vkPay.close();
    process.stdout.write(`migrated ${vkPay.store.backend} at ${vkPay.store.location}\n`);
    return 0;
  }
  const started = performance.now();
  // Listen before announcing readiness: a supervisor may stop us the moment it reads the line.
  const stopped = untilStopped();
  const service = await serve(config, logger);
  logger.info(
    {
      url: service.url,
      storage: service.vkPay.store.backend,
      location: service.vkPay.store.location,
      cache: service.vkPay.cache.kind,
      env: config.env,
      sandbox: config.sandbox.enabled,
      providers: [...service.vkPay.context.providers.keys()],
      ms: Math.round(performance.now() - started),
    },
    'VK-Pay ready',
  );
  if (service.demo) process.stderr.write(firstRunGuide(service.url));
  await stopped;
  await service.close();
  logger.info('VK-Pay stopped');
  return 0;
}

function untilStopped(): Promise<void> {
  return new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
}

function portFrom(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw ? Number(raw) : fallback;
  if (!Number.isInteger(value) || value < 0 || value > 65_535)
    throw new ConfigError(`${name} must be a port from 0 to 65535`);
  return value;
}

async function runSandbox(): Promise<number> {
  const timeFactor = Number(process.env.VKPAY_SANDBOX_TIME_FACTOR ?? 1);
  if (!(timeFactor > 0)) throw new ConfigError('VKPAY_SANDBOX_TIME_FACTOR must be a positive number');
  const stopped = untilStopped();
  const sandboxes = await startSandboxes({
    host: process.env.VKPAY_HOST || '127.0.0.1',
    wxpayPort: portFrom('VKPAY_SANDBOX_WXPAY_PORT', 8091),
    alipayPort: portFrom('VKPAY_SANDBOX_ALIPAY_PORT', 8092),
    timeFactor,
  });
  process.stdout.write(
    `${JSON.stringify({ msg: 'VK-Pay sandbox ready', wxpay: sandboxes.wxpay.url, alipay: sandboxes.alipay.gatewayUrl })}\n`,
  );
  await stopped;
  await sandboxes.close();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof ConfigError) {
      process.stderr.write(`configuration error: ${error.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(
      `vk-pay failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
