/** Says which storage backends this run covers, once, before the suites start. */
export default function setup(): void {
  const servers = process.env.VKPAY_TEST_DATABASE_URL && process.env.VKPAY_TEST_REDIS_URL;
  const names = servers
    ? 'pglite+memory, postgres+redis'
    : 'pglite+memory (no VKPAY_TEST_DATABASE_URL/VKPAY_TEST_REDIS_URL)';
  process.stdout.write(`\nVK-Pay storage backends under test: ${names}\n\n`);
}
