/**
 * `vk-pay serve`: the service on its configuration. In development and testing the emulators are
 * mounted beside the API under /sandbox/wxpay, and a first run without gateway keys gets a demo
 * merchant on them, so a payment can be taken with nothing else installed.
 */
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { AdminListenerConfig } from '../config/admin-listener.ts';
import type { ApiApp } from '../config/security.ts';
import type { ServiceConfig } from '../config/service-config.ts';
import { buildAdminApp } from '../http/admin-app.ts';
import { buildApp, type VkPayApp } from '../http/app.ts';
import { type AlipayMerchantConfig, createAlipayProvider } from '../providers/alipay/index.ts';
import { type AppleIapMerchantConfig, createAppleIapProvider } from '../providers/appleiap/index.ts';
import { createDouyinProvider, type DouyinMerchantConfig } from '../providers/douyin/index.ts';
import type { Provider } from '../providers/provider.ts';
import { createWxpayProvider } from '../providers/wxpay/index.ts';
import {
  createWxpayVirtualProvider,
  type WxpayVirtualMerchantConfig,
} from '../providers/wxpay-virtual/index.ts';
import { AlipayGateway, alipaySandboxPlugin } from '../sandbox/alipay/index.ts';
import { AppleGateway, appleSandboxPlugin, SANDBOX_HOST_PATH } from '../sandbox/appleiap/index.ts';
import { DouyinGateway, douyinSandboxPlugin } from '../sandbox/douyin/index.ts';
import { webhookReceiverPlugin } from '../sandbox/webhooks/receiver.ts';
import { WxpayGateway, wxpaySandboxPlugin } from '../sandbox/wxpay/index.ts';
import { WxVirtualGateway, wxVirtualSandboxPlugin } from '../sandbox/wxpay-virtual/index.ts';
import { createFirstAdmin } from '../service/console/accounts.ts';
import { type InstanceRegistration, registerInstance } from '../service/instances.ts';
import { startSyncJob } from '../service/jobs.ts';
import { startJournalRollupJob } from '../service/journal-rollup.ts';
import { startMicropayJob } from '../service/micropay-job.ts';
import { startAlertMonitor, webhookSender } from '../service/monitoring.ts';
import { startAutoRollbackMonitor } from '../service/route-monitoring.ts';
import { createVkPay, type VkPay } from '../vk-pay.ts';
import {
  DEMO_MERCHANT,
  type DemoKeys,
  demoAlipayApp,
  demoAppleApp,
  demoDouyinApp,
  demoKeys,
  demoVirtualAccount,
  demoWxpayMerchant,
} from './demo-merchants.ts';

export interface RunningService {
  app: FastifyInstance;
  vkPay: VkPay;
  url: string;
  /** The admin listener's URL (health, readiness, metrics), or null when it is off. */
  adminUrl: string | null;
  /** Set on a first run: the demo merchant and app to try a payment with. */
  demo: { merchantId: string; app: ApiApp; webhookSecret: string } | null;
  /** Set on a first start in development: the console's first admin and its password, shown once. */
  firstAdmin: { name: string; password: string } | null;
  close(): Promise<void>;
}

/** A port nobody listens on right now, so URLs can be known before the server starts. */
async function freePort(host: string): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address ? address.port : 0;
}

/** The admin listener beside the service, on the service's metrics; the service closes if it fails. */
async function startAdminListener(
  settings: AdminListenerConfig,
  vkPay: VkPay,
  app: FastifyInstance,
  logger: Logger,
  consoleEnabled: boolean,
): Promise<{ admin: FastifyInstance; url: string }> {
  let admin: FastifyInstance | null = null;
  try {
    admin = await buildAdminApp({
      vkPay,
      metrics: (app as VkPayApp).metrics,
      allowlist: settings.allowlist,
      logger: logger.child({ component: 'admin' }),
      console: consoleEnabled,
    });
    await admin.listen({ host: settings.host, port: settings.port });
  } catch (error) {
    await admin?.close();
    await app.close();
    throw error;
  }
  const address = admin.server.address();
  const port = typeof address === 'object' && address ? address.port : settings.port;
  return {
    admin,
    url: `http://${settings.host.includes(':') ? `[${settings.host}]` : settings.host}:${port}`,
  };
}

export async function serve(given: ServiceConfig, logger: Logger): Promise<RunningService> {
  let config = given;
  if (config.port === 0) {
    const port = await freePort(config.host);
    const derivedUrl = config.publicUrl.endsWith(':0')
      ? config.publicUrl.replace(/:0$/, `:${port}`)
      : config.publicUrl;
    config = { ...config, port, publicUrl: derivedUrl };
  }
  const sandboxBase = `${config.publicUrl.replace(/\/+$/, '')}/sandbox`;
  const timeFactor = config.sandbox.timeFactor;
  const wxpayGateway = config.sandbox.enabled ? new WxpayGateway({ timeFactor }) : null;
  const alipayGateway = config.sandbox.enabled ? await AlipayGateway.create({ timeFactor }) : null;
  const appleGateway = config.sandbox.enabled ? await AppleGateway.create({ timeFactor }) : null;
  const wxVirtualGateway = config.sandbox.enabled ? new WxVirtualGateway({ timeFactor }) : null;
  const douyinGateway = config.sandbox.enabled ? new DouyinGateway({ timeFactor }) : null;
  // The emulators keep their state (and the demo merchant its keys) in the data folder, so a restart
  // does not forget the trades the service still holds.
  const sandboxFolder = config.dataDir === 'memory' ? null : join(config.dataDir, 'sandbox');
  if (sandboxFolder) {
    await wxpayGateway?.persistTo(join(sandboxFolder, 'wxpay.json'));
    await alipayGateway?.persistTo(join(sandboxFolder, 'alipay.json'));
  }

  const wxpayMerchants = [...config.wxpay];
  const alipayApps = [...(config.alipay as unknown as AlipayMerchantConfig[])];
  let demo: RunningService['demo'] = null;
  let keys: DemoKeys | null = null;
  if (wxpayGateway && alipayGateway && wxpayMerchants.length === 0 && alipayApps.length === 0) {
    keys = demoKeys(sandboxFolder);
    wxpayMerchants.push(
      await demoWxpayMerchant(wxpayGateway, `${sandboxBase}/wxpay`, keys, config.publicUrl),
    );
    alipayApps.push(await demoAlipayApp(alipayGateway, `${sandboxBase}/alipay/gateway.do`, keys));
    const app: ApiApp = { appId: 'demo-app', merchantId: DEMO_MERCHANT, secret: keys.apiAppSecret };
    demo = { merchantId: DEMO_MERCHANT, app, webhookSecret: keys.webhookSecret };
  }
  // The demo merchant's backend is the built-in receiver under /sandbox/webhooks: every event of
  // every order type goes there, so a first payment shows its webhook arriving.
  const webhooks = demo
    ? {
        ...config.webhooks,
        endpoints: [
          ...(config.webhooks.endpoints ?? []),
          {
            id: 'demo-receiver',
            merchantId: DEMO_MERCHANT,
            url: `${sandboxBase}/webhooks/receive`,
            secret: demo.webhookSecret,
            description: 'the development receiver (/sandbox/webhooks)',
          },
        ],
      }
    : config.webhooks;
  const demoSecret = demo?.webhookSecret;
  const providers: Provider[] = [];
  if (wxpayMerchants.length > 0)
    providers.push(
      createWxpayProvider({ merchants: wxpayMerchants, serviceProviders: config.wxpayServiceProviders }),
    );
  if (alipayApps.length > 0) providers.push(createAlipayProvider({ merchants: alipayApps }));
  const appleApps = [...((config.appleiap ?? []) as unknown as AppleIapMerchantConfig[])];
  const virtualAccounts = [...((config['wxpay-virtual'] ?? []) as unknown as WxpayVirtualMerchantConfig[])];
  const douyinApps = [...((config.douyin ?? []) as unknown as DouyinMerchantConfig[])];
  // The demo merchant also gets an app on each store and mini program emulator nobody configured.
  if (keys) {
    const notifyBase = `${config.publicUrl.replace(/\/+$/, '')}/notify`;
    if (appleGateway && appleApps.length === 0)
      appleApps.push(
        demoAppleApp(
          appleGateway,
          {
            serverApi: `${sandboxBase}/appleiap`,
            sandboxServerApi: `${sandboxBase}/appleiap${SANDBOX_HOST_PATH}`,
            notifyUrl: `${notifyBase}/appleiap/${DEMO_MERCHANT}`,
          },
          keys,
        ),
      );
    if (douyinGateway && douyinApps.length === 0)
      douyinApps.push(demoDouyinApp(douyinGateway, `${sandboxBase}/douyin`, keys));
    if (wxVirtualGateway && virtualAccounts.length === 0)
      virtualAccounts.push(
        demoVirtualAccount(
          wxVirtualGateway,
          {
            baseUrl: `${sandboxBase}/wxpay-virtual`,
            pushUrl: `${notifyBase}/wxpay-virtual/${DEMO_MERCHANT}`,
          },
          keys,
        ),
      );
  }
  if (appleApps.length > 0) providers.push(createAppleIapProvider({ merchants: appleApps }));
  if (virtualAccounts.length > 0) providers.push(createWxpayVirtualProvider({ merchants: virtualAccounts }));
  if (douyinApps.length > 0) providers.push(createDouyinProvider({ merchants: douyinApps }));

  const vkPay = await createVkPay({ ...config, webhooks, providers, publicUrl: config.publicUrl, logger });
  const apps = demo && config.apps.length === 0 ? [demo.app] : config.apps;
  let app: FastifyInstance;
  let registration: InstanceRegistration | null = null;
  let admin: { admin: FastifyInstance; url: string } | null = null;
  try {
    // Refuses, before listening, a second instance on the database without a shared cache.
    registration = await registerInstance(vkPay.store.db, {
      id: vkPay.context.webhooks.instanceId,
      sharedCache: vkPay.cache.kind !== 'memory',
      allowLocalCache: config.allowLocalCache,
      singleProcessStore: vkPay.store.backend === 'pglite',
      logger,
    });
    app = await buildApp({
      vkPay,
      apps,
      security: config.security,
      docs: config.docs,
      console: config.console.enabled,
      https: config.tls,
      ...(config.checkoutSecret ? { checkout: { secret: config.checkoutSecret } } : {}),
      logger: logger.child({ component: 'http' }),
      mount: async (root) => {
        if (wxpayGateway)
          await root.register(wxpaySandboxPlugin({ gateway: wxpayGateway }), { prefix: '/sandbox/wxpay' });
        if (alipayGateway)
          await root.register(alipaySandboxPlugin({ gateway: alipayGateway }), { prefix: '/sandbox/alipay' });
        if (appleGateway)
          await root.register(appleSandboxPlugin(appleGateway), { prefix: '/sandbox/appleiap' });
        if (wxVirtualGateway)
          await root.register(wxVirtualSandboxPlugin(wxVirtualGateway), { prefix: '/sandbox/wxpay-virtual' });
        if (douyinGateway)
          await root.register(douyinSandboxPlugin(douyinGateway), { prefix: '/sandbox/douyin' });
        if (demoSecret)
          await root.register(webhookReceiverPlugin({ secrets: () => [demoSecret] }), {
            prefix: '/sandbox/webhooks',
          });
      },
    });
    await app.listen({ host: config.host, port: config.port });
    if (config.admin)
      admin = await startAdminListener(config.admin, vkPay, app, logger, config.console.enabled);
  } catch (error) {
    await registration?.stop();
    await vkPay.close();
    throw error;
  }
  // Development only: a console nobody can sign in to is of no use on a first run. Production
  // starts with none, and its first admin is made with `vk-pay console add-user`.
  let firstAdmin: RunningService['firstAdmin'] = null;
  if (config.console.enabled && config.env === 'development') {
    const created = await createFirstAdmin(vkPay.store.db);
    if (created) firstAdmin = { name: created.user.name, password: created.password };
  }
  const stopSync = config.syncIntervalMs > 0 ? startSyncJob(vkPay.context, config.syncIntervalMs) : () => {};
  // Payment codes awaiting the buyer's confirmation: asked about every few seconds, reversed at the window's end.
  const stopMicropay = config.syncIntervalMs > 0 ? startMicropayJob(vkPay.context) : () => {};
  const stopAlerts = startAlertMonitor(vkPay.context, config.alerts);
  const stopAutoRollbacks = startAutoRollbackMonitor(
    vkPay.context,
    webhookSender(vkPay.context, config.alerts),
  );
  // The console overview's hourly rollup of the journal: a minute apart is plenty for closed hours.
  const stopRollup = startJournalRollupJob(vkPay.context, 60_000);
  vkPay.startWebhookDelivery();
  const address = app.server.address();
  const url = `${config.tls ? 'https' : 'http'}://${config.host.includes(':') ? `[${config.host}]` : config.host}:${typeof address === 'object' && address ? address.port : config.port}`;
  return {
    app,
    vkPay,
    url,
    adminUrl: admin?.url ?? null,
    demo,
    firstAdmin,
    async close() {
      stopSync();
      stopMicropay();
      stopAlerts();
      stopAutoRollbacks();
      stopRollup();
      await admin?.admin.close();
      await app.close();
      await registration.stop();
      await vkPay.close();
    },
  };
}
