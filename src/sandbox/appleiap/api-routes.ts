/**
 * The App Store Server API endpoints the service uses, for one environment (the production host,
 * or the sandbox host): every request carries the app's ES256 JWT, errors are Apple's
 * `{errorCode, errorMessage}`, and a transaction of the other environment is not found (4040010),
 * which is how a client learns to ask the sandbox instead.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppleEnvironment, AppRecord } from './apps.ts';
import type { AppleGateway, TransactionRecord } from './gateway.ts';
import { authenticate } from './request-auth.ts';

export interface ApiRoutesOptions {
  gateway: AppleGateway;
  environment: AppleEnvironment;
}

const TRANSACTION_ID_PATTERN = /^[0-9]{1,20}$/;

/** Apple's error codes this emulator answers. */
export const APPLE_ERRORS = {
  invalidTransactionId: { status: 400, errorCode: 4000006, errorMessage: 'Invalid transaction id.' },
  transactionIdNotFound: { status: 404, errorCode: 4040010, errorMessage: 'Transaction id not found.' },
} as const;

type AppleError = (typeof APPLE_ERRORS)[keyof typeof APPLE_ERRORS];

function fail(reply: FastifyReply, error: AppleError) {
  return reply.code(error.status).send({ errorCode: error.errorCode, errorMessage: error.errorMessage });
}

export async function apiRoutes(app: FastifyInstance, options: ApiRoutesOptions): Promise<void> {
  const { gateway, environment } = options;

  // Every route needs the JWT; the app it names is the only app whose data it may read.
  const appByRequest = new WeakMap<FastifyRequest, AppRecord>();
  app.addHook('onRequest', async (request, reply) => {
    const result = authenticate(request.headers.authorization, gateway.apps, gateway.now());
    if (!result.ok) {
      request.log.info({ reason: result.reason }, 'App Store emulator: JWT refused');
      return reply.code(401).type('text/plain').send('Unauthenticated');
    }
    appByRequest.set(request, result.app);
  });
  const appOf = (request: FastifyRequest): AppRecord => {
    const found = appByRequest.get(request);
    if (!found) throw new Error('unauthenticated request reached a route');
    return found;
  };

  /** The transaction of this app and environment, or the reason to refuse. */
  const find = (request: FastifyRequest, id: string): TransactionRecord | AppleError => {
    if (!TRANSACTION_ID_PATTERN.test(id)) return APPLE_ERRORS.invalidTransactionId;
    const record = gateway.transactions.get(id);
    if (!record || record.bundleId !== appOf(request).bundleId || record.environment !== environment)
      return APPLE_ERRORS.transactionIdNotFound;
    return record;
  };

  app.get<{ Params: { transactionId: string } }>(
    '/inApps/v1/transactions/:transactionId',
    async (request, reply) => {
      const found = find(request, request.params.transactionId);
      if ('errorCode' in found) return fail(reply, found);
      return { signedTransactionInfo: gateway.signedTransaction(found) };
    },
  );

  app.get<{ Params: { transactionId: string } }>(
    '/inApps/v2/history/:transactionId',
    async (request, reply) => {
      const found = find(request, request.params.transactionId);
      if ('errorCode' in found) return fail(reply, found);
      const application = appOf(request);
      return {
        revision: String(gateway.history(found.originalTransactionId).length),
        bundleId: application.bundleId,
        appAppleId: application.appAppleId,
        environment,
        hasMore: false,
        signedTransactions: gateway
          .history(found.originalTransactionId)
          .map((record) => gateway.signedTransaction(record)),
      };
    },
  );

  app.get<{ Params: { transactionId: string } }>(
    '/inApps/v1/subscriptions/:transactionId',
    async (request, reply) => {
      const found = find(request, request.params.transactionId);
      if ('errorCode' in found) return fail(reply, found);
      const application = appOf(request);
      const latest = gateway.latestOf(found.originalTransactionId) ?? found;
      return {
        environment,
        bundleId: application.bundleId,
        appAppleId: application.appAppleId,
        data:
          latest.type === 'Auto-Renewable Subscription'
            ? [
                {
                  subscriptionGroupIdentifier: latest.subscriptionGroupIdentifier,
                  lastTransactions: [
                    {
                      originalTransactionId: latest.originalTransactionId,
                      status: gateway.subscriptionStatus(latest),
                      signedTransactionInfo: gateway.signedTransaction(latest),
                      signedRenewalInfo: gateway.signedRenewalInfo(latest),
                    },
                  ],
                },
              ]
            : [],
      };
    },
  );

  app.post('/inApps/v1/notifications/test', async (request) => {
    const record = gateway.sendTest(appOf(request), environment);
    return { testNotificationToken: `${record.notificationUUID}_${record.attempts.length}` };
  });
}
