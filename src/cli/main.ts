/** The `vk-pay` command. */
import { pino } from 'pino';
import { ConfigError } from '../config/config.ts';
import { loadServiceConfig } from '../config/service-config.ts';
import { SharedCacheRequiredError } from '../service/instances.ts';
import { DataDirInUseError } from '../store/data-lock.ts';
import { createVkPay } from '../vk-pay.ts';
import { CONSOLE_HELP, runConsoleCommand } from './console.ts';
import { runDoctor } from './doctor.ts';
import { firstRunGuide } from './guide.ts';
import { generateKeys } from './keys.ts';
import { LISTEN_HELP, runListen } from './listen.ts';
import { ROUTES_HELP, runRoutesCommand } from './routes.ts';
import { startSandboxes } from './sandbox.ts';
import { serve } from './serve.ts';

const COMMAND_HELP: Record<string, string> = {
  serve: 'vk-pay serve (alias: start)\n  Runs the service on its configuration; see `vk-pay help`.\n',
  sandbox:
    'vk-pay sandbox\n  Runs the WeChat Pay, Alipay and App Store emulators alone.\n  VKPAY_SANDBOX_WXPAY_PORT (8091), VKPAY_SANDBOX_ALIPAY_PORT (8092), VKPAY_SANDBOX_APPLEIAP_PORT (8093),\n  VKPAY_SANDBOX_TIME_FACTOR (1).\n',
  migrate:
    'vk-pay migrate\n  Opens the store (DATABASE_URL or ./data), applies pending migrations and exits.\n',
  keys: 'vk-pay keys [--out DIR] [--force]\n  Writes development keys, a test CA and an example config to DIR (default ./keys).\n  Never use them with a real gateway.\n',
  doctor:
    'vk-pay doctor\n  Checks the configuration: keys parse, key pairs match, certificates in date, URLs fit the\n  environment, database and cache reachable. Exit code 1 when a check fails.\n',
  listen: LISTEN_HELP,
  console: CONSOLE_HELP,
  routes: ROUTES_HELP,
};

const USAGE = `vk-pay: a self-hosted universal payment service

Usage:
  vk-pay serve      run the service (alias: start). Embedded PGlite in ./data and an in-memory
                    cache unless DATABASE_URL / REDIS_URL are set; in development the WeChat Pay
                    emulator is mounted under /sandbox, with a demo merchant on a first run
  vk-pay sandbox    run the WeChat Pay, Alipay and App Store emulators alone (VKPAY_SANDBOX_WXPAY_PORT,
                    default 8091; VKPAY_SANDBOX_ALIPAY_PORT, 8092; VKPAY_SANDBOX_APPLEIAP_PORT, 8093;
                    VKPAY_SANDBOX_TIME_FACTOR)
  vk-pay migrate    open the store, apply pending migrations and exit
  vk-pay keys       write development keys, a test CA and an example config (--out DIR)
  vk-pay doctor     check a configuration before going live
  vk-pay listen     forward the service's webhooks to a backend on this machine
                    (--forward-to URL [--url SERVICE_URL] [--merchant ID] [--types ...] [--events ...])
  vk-pay console    operator accounts of the console at /console: add-user NAME --role ROLE
                    [--merchant ID]..., set-role, list-users, reset-totp NAME, disable-user NAME
  vk-pay routes     gray release routes of a merchant: list MERCHANT, set-share MERCHANT ROUTE
                    SHARE, clear-share MERCHANT ROUTE, rollback MERCHANT ROUTE
  vk-pay help       this text; vk-pay <command> --help for one command

Configuration: vk-pay.config.json in the working folder, or VKPAY_CONFIG=path; environment:
VKPAY_ENV (development, testing, production; else NODE_ENV: development, test, production),
VKPAY_HOST, VKPAY_PORT, VKPAY_PUBLIC_URL,
DATABASE_URL, REDIS_URL, VKPAY_DATA_DIR, VKPAY_MAX_FEN, VKPAY_DB_POOL_SIZE, VKPAY_LOG_LEVEL,
VKPAY_SANDBOX, VKPAY_ALLOW_LOCAL_CACHE, VKPAY_CONSOLE, VKPAY_ADMIN_PORT and VKPAY_ADMIN_HOST (the
admin listener: /healthz, /readyz, /metrics, /admin, /console), ENCRYPTION_KEY, VKPAY_WEBHOOK_KEY,
VKPAY_CHECKOUT_SECRET, VKPAY_ALERT_WEBHOOK, VKPAY_DOCS; the README's Configuration section lists them.
Exit codes: 0 ok, 1 failure, 2 bad usage or configuration.
`;

async function main(argv: string[]): Promise<number> {
  const command = argv[0] ?? 'serve';
  if (command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(COMMAND_HELP[command === 'start' ? 'serve' : command] ?? USAGE);
    return 0;
  }
  if (command === 'sandbox') return runSandbox();
  if (command === 'keys') return runKeys(argv.slice(1));
  if (command === 'doctor') return runDoctorCommand();
  if (command === 'listen') return runListen(argv.slice(1), untilStopped());
  if (
    command !== 'serve' &&
    command !== 'start' &&
    command !== 'migrate' &&
    command !== 'console' &&
    command !== 'routes'
  ) {
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
        'req.headers.cookie',
        'res.headers["set-cookie"]',
        '*.secret',
        '*.privateKey',
        '*.apiV3Key',
      ],
      censor: '[redacted]',
    },
  });
  if (command === 'console') return runConsoleCommand(argv.slice(1), config, logger);
  if (command === 'routes') return runRoutesCommand(argv.slice(1), config, logger);
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
      ...(service.adminUrl ? { admin: service.adminUrl } : {}),
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
  if (service.firstAdmin) {
    // Printed once, on the start that made the account; it is stored only as a hash.
    process.stdout.write(
      `Operator console: ${service.url}/console user ${service.firstAdmin.name} password ${service.firstAdmin.password} (shown once; vk-pay console --help)\n`,
    );
  }
  if (service.demo) process.stderr.write(firstRunGuide(service.url));
  await stopped;
  await service.close();
  logger.info('VK-Pay stopped');
  return 0;
}

async function runKeys(args: string[]): Promise<number> {
  const outIndex = args.indexOf('--out');
  const folder = outIndex >= 0 ? args[outIndex + 1] : './keys';
  const unknown = args.filter(
    (arg, i) => arg.startsWith('-') && arg !== '--out' && arg !== '--force' && i !== outIndex + 1,
  );
  if (!folder || unknown.length > 0) {
    process.stderr.write(
      `bad arguments: ${unknown.join(' ') || '--out needs a folder'}\n\n${COMMAND_HELP.keys}`,
    );
    return 2;
  }
  const generated = await generateKeys(folder, { force: args.includes('--force') });
  process.stdout.write(
    `wrote development keys to ${generated.folder} (WeChat Pay merchant serial ${generated.wxpaySerialNo}):\n${generated.files
      .map((file) => `  ${file}`)
      .join('\n')}\nThese are for the emulators and local tests only.\n`,
  );
  return 0;
}

async function runDoctorCommand(): Promise<number> {
  let config: ReturnType<typeof loadServiceConfig>;
  try {
    config = loadServiceConfig();
  } catch (error) {
    process.stdout.write(`FAIL configuration: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  const checks = await runDoctor(config);
  for (const check of checks) {
    process.stdout.write(
      `${check.ok ? 'ok  ' : 'FAIL'} ${check.what}${check.detail ? `: ${check.detail}` : ''}\n`,
    );
  }
  const failed = checks.filter((check) => !check.ok).length;
  process.stdout.write(failed === 0 ? 'all checks passed\n' : `${failed} check(s) failed\n`);
  return failed === 0 ? 0 : 1;
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
    appleiapPort: portFrom('VKPAY_SANDBOX_APPLEIAP_PORT', 8093),
    timeFactor,
  });
  process.stdout.write(
    `${JSON.stringify({ msg: 'VK-Pay sandbox ready', wxpay: sandboxes.wxpay.url, alipay: sandboxes.alipay.gatewayUrl, appleiap: sandboxes.appleiap.url })}\n`,
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
    // Deployment mistakes found at start: another process holds what this one needs.
    if (error instanceof DataDirInUseError || error instanceof SharedCacheRequiredError) {
      process.stderr.write(`vk-pay cannot start: ${error.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(
      `vk-pay failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
