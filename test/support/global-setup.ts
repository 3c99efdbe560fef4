import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Says which storage backends this run covers, once, before the suites start; and installs the
 * example uni-app project's own packages when they are missing (the cashier popup's build tests
 * compile it), so `npm ci && npm test` is all a fresh checkout needs.
 */
export default function setup(): void {
  const servers = process.env.VKPAY_TEST_DATABASE_URL && process.env.VKPAY_TEST_REDIS_URL;
  const names = servers
    ? 'pglite+memory, postgres+redis'
    : 'pglite+memory (no VKPAY_TEST_DATABASE_URL/VKPAY_TEST_REDIS_URL)';
  process.stdout.write(`\nVK-Pay storage backends under test: ${names}\n\n`);
  const example = join(process.cwd(), 'examples', 'uni-app');
  if (!existsSync(join(example, 'node_modules'))) {
    process.stdout.write('Installing the example uni-app project (npm ci --prefix examples/uni-app)...\n');
    execFileSync('npm', ['ci', '--prefix', example, '--no-audit', '--no-fund'], { stdio: 'inherit' });
  }
}
