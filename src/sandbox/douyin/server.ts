/** The Douyin emulator as a standalone HTTP server, for tests over real sockets. */
import Fastify, { type FastifyInstance } from 'fastify';
import { DouyinGateway, type DouyinGatewayOptions } from './gateway.ts';
import { douyinSandboxPlugin } from './plugin.ts';

export interface StartDouyinSandboxOptions extends DouyinGatewayOptions {
  /** Default 127.0.0.1: the control API is unauthenticated. */
  host?: string;
  port?: number;
}

export interface RunningDouyinSandbox {
  /** The platform's base URL (client_token, trade and ecpay APIs), without a trailing slash. */
  url: string;
  controlUrl: string;
  gateway: DouyinGateway;
  app: FastifyInstance;
  close(): Promise<void>;
}

export async function startDouyinSandbox(
  options: StartDouyinSandboxOptions = {},
): Promise<RunningDouyinSandbox> {
  const gateway = new DouyinGateway(options);
  const app = Fastify({ logger: false, forceCloseConnections: true });
  await app.register(douyinSandboxPlugin(gateway));
  const host = options.host ?? '127.0.0.1';
  await app.listen({ host, port: options.port ?? 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return { url, controlUrl: `${url}/sandbox`, gateway, app, close: () => app.close() };
}
