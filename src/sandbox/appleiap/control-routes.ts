/**
 * The emulator's control API (unauthenticated, under /sandbox): register an app as App Store
 * Connect would, make a buyer buy (which notifies ONE_TIME_CHARGE or SUBSCRIBED), and make Apple
 * renew, take a resubscription, refund, reverse a refund, revoke or expire;
 * list the notifications sent and send one again (a duplicate, as Apple's retries are).
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { type AppRegistration, ENVIRONMENTS, registrationProblem } from './apps.ts';
import type { AppleGateway, PurchaseInput, TransactionRecord } from './gateway.ts';
import type { NotificationRecord } from './notifier.ts';

export interface ControlRoutesOptions {
  gateway: AppleGateway;
}

const ACTIONS = ['renew', 'resubscribe', 'refund', 'refund-reversed', 'revoke', 'expire'] as const;
type Action = (typeof ACTIONS)[number];

function refuse(reply: FastifyReply, status: number, message: string) {
  return reply.code(status).send({ error: message });
}

function notificationView(record: NotificationRecord) {
  return {
    notificationUUID: record.notificationUUID,
    notificationType: record.notificationType,
    ...(record.subtype ? { subtype: record.subtype } : {}),
    environment: record.environment,
    url: record.url,
    delivered: record.delivered,
    attempts: record.attempts,
    signedPayload: record.signedPayload,
  };
}

export async function controlRoutes(app: FastifyInstance, options: ControlRoutesOptions): Promise<void> {
  const { gateway } = options;

  const transactionView = (record: TransactionRecord) => ({
    transactionId: record.transactionId,
    originalTransactionId: record.originalTransactionId,
    environment: record.environment,
    signedTransactionInfo: gateway.signedTransaction(record),
  });

  app.get('/root-certificate', async (_request, reply) =>
    reply.type('application/x-pem-file').send(gateway.ca.rootPem),
  );

  app.post<{ Body: AppRegistration }>('/apps', async (request, reply) => {
    const problem = registrationProblem(request.body);
    if (problem) return refuse(reply, 400, problem);
    try {
      return { ...gateway.registerApp(request.body), rootCertificatePem: gateway.ca.rootPem };
    } catch (error) {
      return refuse(reply, 400, error instanceof Error ? error.message : 'invalid app');
    }
  });

  app.post<{ Body: PurchaseInput }>('/purchases', async (request, reply) => {
    const body = request.body;
    if (typeof body?.bundleId !== 'string' || typeof body.productId !== 'string')
      return refuse(reply, 400, 'bundleId and productId are required');
    if (body.environment !== undefined && !ENVIRONMENTS.includes(body.environment))
      return refuse(reply, 400, 'environment must be Production or Sandbox');
    if (
      body.quantity !== undefined &&
      (!Number.isSafeInteger(body.quantity) || body.quantity < 1 || body.quantity > 10)
    )
      return refuse(reply, 400, 'quantity must be 1 to 10');
    try {
      const bought = gateway.purchase(body);
      return {
        ...transactionView(bought.transaction),
        receipt: bought.receipt,
        notification: notificationView(bought.notification),
      };
    } catch (error) {
      return refuse(reply, 400, error instanceof Error ? error.message : 'purchase refused');
    }
  });

  app.post<{ Body: { transactionIds?: unknown } }>('/receipts', async (request, reply) => {
    const ids = request.body?.transactionIds;
    if (
      !Array.isArray(ids) ||
      ids.length === 0 ||
      ids.length > 100 ||
      ids.some((id) => typeof id !== 'string')
    )
      return refuse(reply, 400, 'transactionIds must list 1 to 100 transaction ids');
    try {
      return { receipt: gateway.receiptFor(ids as string[]) };
    } catch (error) {
      return refuse(reply, 400, error instanceof Error ? error.message : 'refused');
    }
  });

  app.post<{ Params: { transactionId: string; action: string }; Body: { reason?: number } | undefined }>(
    '/transactions/:transactionId/:action',
    async (request, reply) => {
      const { transactionId, action } = request.params;
      if (!ACTIONS.includes(action as Action)) return refuse(reply, 404, `no action ${action}`);
      if (!gateway.transactions.has(transactionId))
        return refuse(reply, 404, `no transaction ${transactionId}`);
      try {
        switch (action as Action) {
          case 'renew': {
            const renewed = gateway.renew(transactionId);
            return {
              ...transactionView(renewed.transaction),
              notification: notificationView(renewed.notification),
            };
          }
          case 'resubscribe': {
            const again = gateway.resubscribe(transactionId);
            return {
              ...transactionView(again.transaction),
              notification: notificationView(again.notification),
            };
          }
          case 'refund': {
            const reason = request.body?.reason === 1 ? 1 : 0;
            return { notification: notificationView(gateway.refund(transactionId, reason)) };
          }
          case 'refund-reversed':
            return { notification: notificationView(gateway.reverseRefund(transactionId)) };
          case 'revoke':
            return { notification: notificationView(gateway.revoke(transactionId)) };
          case 'expire':
            return { notification: notificationView(gateway.expire(transactionId)) };
        }
      } catch (error) {
        return refuse(reply, 409, error instanceof Error ? error.message : 'refused');
      }
    },
  );

  app.get<{ Querystring: { type?: string } }>('/notifications', async (request) => ({
    notifications: gateway.notifier.records
      .filter((record) => !request.query.type || record.notificationType === request.query.type)
      .map(notificationView),
  }));

  app.post<{ Params: { uuid: string } }>('/notifications/:uuid/resend', async (request, reply) => {
    const record = await gateway.notifier.resend(request.params.uuid);
    if (!record) return refuse(reply, 404, 'no such notification with a URL');
    return notificationView(record);
  });
}
