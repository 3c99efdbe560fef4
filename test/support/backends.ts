/**
 * The storage backends the suites run on: always PGlite in memory with the in-memory cache, and the
 * PostgreSQL and Redis servers when VKPAY_TEST_DATABASE_URL and VKPAY_TEST_REDIS_URL are set.
 */
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { dropSchema } from '../../src/store/db.ts';
import { createVkPay, type VkPay, type VkPayOptions } from '../../src/vk-pay.ts';

export interface TestBackend {
  name: string;
  open(options?: VkPayOptions): Promise<VkPay>;
}

const databaseUrl = process.env.VKPAY_TEST_DATABASE_URL || undefined;
const redisUrl = process.env.VKPAY_TEST_REDIS_URL || undefined;
const silent = pino({ level: 'silent' });

export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

const embedded: TestBackend = {
  name: 'pglite+memory',
  open: (options = {}) => createVkPay({ dataDir: 'memory', logger: silent, ...options }),
};

const servers: TestBackend = {
  name: 'postgres+redis',
  async open(options = {}) {
    const schema = uniqueName('t');
    const vkPay = await createVkPay({
      databaseUrl,
      redisUrl,
      schema,
      cachePrefix: `${schema}:`,
      pool: { max: 10, acquireTimeoutMs: 30_000, idleTimeoutMs: 10_000 },
      logger: silent,
      ...options,
    });
    const close = vkPay.close;
    vkPay.close = async () => {
      await close();
      await dropSchema(databaseUrl!, schema);
    };
    return vkPay;
  },
};

export const backends: TestBackend[] = databaseUrl && redisUrl ? [embedded, servers] : [embedded];
export const serverUrls = { databaseUrl, redisUrl };
