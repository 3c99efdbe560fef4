/**
 * The emulator as a standalone HTTP server, for `vk-pay sandbox` and for tests over real sockets.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { AppleGateway, type AppleGatewayOptions } from './gateway.ts';
import { appleSandboxPlugin, SANDBOX_HOST_PATH } from './plugin.ts';

export interface StartAppleSandboxOptions extends AppleGatewayOptions {
  /** Default 127.0.0.1: the control API is unauthenticated. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
}

export interface RunningAppleSandbox {
  /** The production Server API's base URL (and the emulator's root), without a trailing slash. */
  url: string;
  /** The sandbox Server API's base URL. */
  sandboxUrl: string;
  /** The control API's base URL. */
  controlUrl: string;
  gateway: AppleGateway;
  app: FastifyInstance;
  close(): Promise<void>;
}

export async function startAppleSandbox(
  options: StartAppleSandboxOptions = {},
): Promise<RunningAppleSandbox> {
  const gateway = await AppleGateway.create(options);
  const app = Fastify({ logger: false, forceCloseConnections: true });
  await app.register(appleSandboxPlugin(gateway));
  const host = options.host ?? '127.0.0.1';
  await app.listen({ host, port: options.port ?? 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url,
    sandboxUrl: `${url}${SANDBOX_HOST_PATH}`,
    controlUrl: `${url}/sandbox`,
    gateway,
    app,
    close: () => app.close(),
  };
}
