/** The `vk-pay` command. */
import { ConfigError, loadConfig } from '../config/config.ts';
import { createVkPay } from '../vk-pay.ts';

const USAGE = `vk-pay: a self-hosted universal payment service

Usage:
  vk-pay start      open the store (embedded PGlite in ./data unless DATABASE_URL is set),
                    migrate it, report readiness and keep running until interrupted
  vk-pay migrate    open the store, apply pending migrations and exit
  vk-pay help       this text

Environment: DATABASE_URL, REDIS_URL, VKPAY_DATA_DIR, VKPAY_ENV, VKPAY_MAX_FEN,
VKPAY_DB_POOL_SIZE, VKPAY_DB_ACQUIRE_TIMEOUT_MS, VKPAY_DB_IDLE_TIMEOUT_MS, VKPAY_LOG_LEVEL.
`;

async function main(argv: string[]): Promise<number> {
  const command = argv[0] ?? 'start';
  if (command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (command !== 'start' && command !== 'migrate') {
    process.stderr.write(`unknown command: ${command}\n\n${USAGE}`);
    return 2;
  }
  const config = loadConfig(process.env);
  const started = performance.now();
  const vkPay = await createVkPay(config);
  const ready = {
    storage: vkPay.store.backend,
    location: vkPay.store.location,
    cache: vkPay.cache.kind,
    env: config.env,
    ms: Math.round(performance.now() - started),
  };
  if (command === 'migrate') {
    await vkPay.close();
    process.stdout.write(`migrated ${ready.storage} at ${ready.location}\n`);
    return 0;
  }
  // Listen before announcing readiness: a supervisor may stop us the moment it reads the line.
  const stopped = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  vkPay.context.logger.info(ready, 'VK-Pay ready');
  await stopped;
  await vkPay.close();
  vkPay.context.logger.info('VK-Pay stopped');
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
