/**
 * The baseline of the cached-query figure, run as its own process: a bare Fastify app on the same
 * machine with one route that answers a small JSON, with no plugins, hooks or logging.
 */
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.get('/bare/:outTradeNo', async (request) => ({
  code: 0,
  msg: 'ok',
  data: { orderPaid: true, out_trade_no: (request.params as { outTradeNo: string }).outTradeNo },
}));
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
const port = typeof address === 'object' && address ? address.port : 0;
process.stdout.write(`${JSON.stringify({ msg: 'bare fastify ready', url: `http://127.0.0.1:${port}` })}\n`);
process.once('SIGTERM', () => {
  void app.close().then(() => process.exit(0));
});
