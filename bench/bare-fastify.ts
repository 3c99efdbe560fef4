/**
 * The baseline of the cached-query figure, run as its own process: a bare Fastify app on the same
 * machine with no plugins, hooks or logging: one route that answers a small JSON (the target's
 * baseline) and one that answers the same JSON as VK-Pay's cached query (the diagnostic baseline).
 */
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.get('/bare/:outTradeNo', async (request) => ({
  code: 0,
  msg: 'ok',
  data: { orderPaid: true, out_trade_no: (request.params as { outTradeNo: string }).outTradeNo },
}));
// The same answer as VK-Pay's cached query (same fields, same size), so the two rates differ only by
// the work VK-Pay does, not by how many bytes the load generator has to read.
const order = {
  out_trade_no: '',
  transaction_id: '4200000000202611250000000000',
  provider: 'wxpay',
  scene: 'native',
  type: 'goods',
  subject: 'bench query',
  total_fee: 100,
  refunded_fee: 0,
  status: 'SUCCESS',
  user_id: null,
  openid: null,
  custom: {},
  user_order_success: true,
  pay_date: '2026-11-25T12:00:00.000Z',
  close_date: null,
  create_date: '2026-11-25T12:00:00.000Z',
  update_date: '2026-11-25T12:00:00.000Z',
};
app.get('/bare-same/:outTradeNo', async (request) => ({
  code: 0,
  msg: 'ok',
  data: {
    orderPaid: true,
    user_order_success: true,
    order: { ...order, out_trade_no: (request.params as { outTradeNo: string }).outTradeNo },
  },
}));
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
const port = typeof address === 'object' && address ? address.port : 0;
process.stdout.write(`${JSON.stringify({ msg: 'bare fastify ready', url: `http://127.0.0.1:${port}` })}\n`);
process.once('SIGTERM', () => {
  void app.close().then(() => process.exit(0));
});
