/**
 * Apple in-app purchase verification: store purchases verified per second through our provider
 * (the Server API asked with a fresh ES256 JWT, the signed transaction checked through its x5c
 * chain to the configured root and its ES256 signature), and the local check of a signed
 * transaction alone, beside this machine's ES256 sign and verify rates measured in the same run.
 * The App Store emulator runs in this process, so its own work (the JWT check, the signing of each
 * answer) is counted against ours: the figure is a floor.
 */
import { generateKeyPairSync, randomUUID, sign, verify } from 'node:crypto';
import { createAppleIapProvider } from '../src/providers/appleiap/index.ts';
import { AppleSignedDataVerifier } from '../src/providers/appleiap/signed-data.ts';
import { startAppleSandbox } from '../src/sandbox/appleiap/index.ts';
import { postJson } from './support/emulators.ts';
import { type LoadResult, runConcurrently } from './support/load.ts';

export interface AppleIapBenchResult {
  calls: number;
  concurrency: number;
  /** verifyTransaction by transaction id: Server API round trip and signature checks. */
  verified: LoadResult;
  /** The signed transaction checked locally (chain and signature), no network. */
  local: LoadResult;
  es256SignsPerSecond: number;
  es256VerifiesPerSecond: number;
  /** Verifications per ES256 verify the machine makes in the same time (one core). */
  ratio: number;
}

/** ES256 (P-256, SHA-256) signatures and verifications per second on one core, each for about `ms`. */
export function measureEs256Rates(ms: number): { signs: number; verifies: number } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  // About the size of a signed transaction's header and payload.
  const message = Buffer.from(`${'h'.repeat(2400)}.${'p'.repeat(900)}`);
  const signature = sign('sha256', message, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  const rate = (work: () => void) => {
    for (let i = 0; i < 20; i++) work();
    let done = 0;
    const started = performance.now();
    let elapsed = 0;
    while (elapsed < ms) {
      for (let i = 0; i < 20; i++) work();
      done += 20;
      elapsed = performance.now() - started;
    }
    return done / (elapsed / 1000);
  };
  return {
    signs: rate(() => sign('sha256', message, { key: privateKey, dsaEncoding: 'ieee-p1363' })),
    verifies: rate(() => verify('sha256', message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature)),
  };
}

export async function benchAppleIap(
  calls: number,
  concurrency: number,
  signMs: number,
): Promise<AppleIapBenchResult> {
  const emulator = await startAppleSandbox();
  try {
    const bundleId = 'com.example.bench';
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const issuerId = randomUUID();
    const registered = await postJson<{ rootCertificatePem: string }>(`${emulator.controlUrl}/apps`, {
      bundleId,
      issuerId,
      keyId: 'BENCHKEY01',
      publicKeyPem: key.publicKey.export({ type: 'spki', format: 'pem' }),
      products: [{ productId: 'coins_60', type: 'Consumable', price: 6000, currency: 'CNY' }],
    });
    const provider = createAppleIapProvider({
      merchants: [
        {
          merchantId: 'bench',
          bundleId,
          issuerId,
          keyId: 'BENCHKEY01',
          privateKey: key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
          environment: 'Sandbox',
          rootCertificates: [registered.rootCertificatePem],
          products: { coins_60: { totalFen: 600, type: 'goods' } },
          baseUrl: emulator.url,
          sandboxBaseUrl: emulator.sandboxUrl,
          timeoutMs: 10_000,
        },
      ],
    });
    const purchases: { transactionId: string; signedTransactionInfo: string }[] = [];
    for (let i = 0; i < Math.min(calls, 200); i++)
      purchases.push(await postJson(`${emulator.controlUrl}/purchases`, { bundleId, productId: 'coins_60' }));
    const purchaseOf = (i: number) => purchases[i % purchases.length]!;
    const byId = (i: number) =>
      provider.verifyTransaction('bench', undefined, { transactionId: purchaseOf(i).transactionId });
    await runConcurrently(Math.min(50, calls), concurrency, byId);
    const verified = await runConcurrently(calls, concurrency, byId);
    const verifier = new AppleSignedDataVerifier({
      rootCertificates: [registered.rootCertificatePem],
      bundleId,
      environment: 'Sandbox',
    });
    const locally = (i: number) => verifier.verifyTransaction(purchaseOf(i).signedTransactionInfo);
    await runConcurrently(Math.min(50, calls), 1, locally);
    const local = await runConcurrently(calls, 1, locally);
    const rates = measureEs256Rates(signMs);
    return {
      calls,
      concurrency,
      verified,
      local,
      es256SignsPerSecond: rates.signs,
      es256VerifiesPerSecond: rates.verifies,
      ratio: verified.perSecond / rates.verifies,
    };
  } finally {
    await emulator.close();
  }
}

/** Runs alone: `node --import tsx bench/appleiap.ts`. */
if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await benchAppleIap(Number(process.env.BENCH_CALLS ?? 1000), 8, 2000);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
