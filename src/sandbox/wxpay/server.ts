/**
 * The emulator as a standalone HTTP server, for `vk-pay sandbox` and for tests over real sockets.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { WxpayGateway } from './gateway.ts';
import { type WxpaySandboxPluginOptions, wxpaySandboxPlugin } from './plugin.ts';

export interface StartWxpaySandboxOptions extends WxpaySandboxPluginOptions {
  /** Default 127.0.0.1: the control API is unauthenticated, so do not expose it by accident. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  /** Passed to Fastify; off by default. */
  logger?: boolean | Record<string, unknown>;
}

export interface RunningWxpaySandbox {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:41234 */
  url: string;
  gateway: WxpayGateway;
  app: FastifyInstance;
  close(): Promise<void>;
}

export async function startWxpaySandbox(
  options: StartWxpaySandboxOptions = {},
): Promise<RunningWxpaySandbox> {
  // An emulator holds hung and half-read connections on purpose; closing it must not wait for them.
  const app = Fastify({ logger: options.logger ?? false, forceCloseConnections: true });
  const plugin = wxpaySandboxPlugin(options);
  await app.register(plugin);
  const host = options.host ?? '127.0.0.1';
  await app.listen({ host, port: options.port ?? 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: options.publicUrl?.replace(/\/+$/, '') ?? `http://${urlHost}:${port}`,
    gateway: plugin.gateway,
    app,
    close: () => app.close(),
  };
}
