/** The emulator as a standalone HTTP server, for tests over real sockets. */
import Fastify, { type FastifyInstance } from 'fastify';
import { type GatewayOptions, WxVirtualGateway } from './gateway.ts';
import { wxVirtualSandboxPlugin } from './plugin.ts';

export interface RunningWxVirtualSandbox {
  /** The API base URL (WeChat's api.weixin.qq.com), without a trailing slash. */
  url: string;
  /** The control API's base URL. */
  controlUrl: string;
  gateway: WxVirtualGateway;
  app: FastifyInstance;
  close(): Promise<void>;
}

export async function startWxVirtualSandbox(
  options: GatewayOptions & { host?: string; port?: number } = {},
): Promise<RunningWxVirtualSandbox> {
  const gateway = new WxVirtualGateway(options);
  const app = Fastify({ logger: false, forceCloseConnections: true });
  await app.register(wxVirtualSandboxPlugin(gateway));
  const host = options.host ?? '127.0.0.1';
  await app.listen({ host, port: options.port ?? 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const url = `http://${host}:${port}`;
  return { url, controlUrl: `${url}/sandbox`, gateway, app, close: () => app.close() };
}
