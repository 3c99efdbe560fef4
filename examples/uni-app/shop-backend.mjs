// The shop's backend for the example, in a few lines of Node (no dependencies): POST /checkout
// { total_fee, subject } creates a VK-Pay checkout (POST /api/checkouts, signed with the API app's
// secret when one is given; a development service also takes it unsigned) and answers { token }.
// The secret stays here: the page only ever sees the checkout token.
//
//   VKPAY_URL=http://127.0.0.1:3000 VKPAY_APP_ID=demo-app VKPAY_APP_SECRET=... PORT=4000 node shop-backend.mjs
import { createHmac, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';

/** Signed headers for one merchant API request (README: Signatures). */
function signature(app, method, path, body) {
  if (!app.secret) return {};
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = randomBytes(12).toString('hex');
  const signed = createHmac('sha256', app.secret)
    .update(`${method}\n${path}\n${timestamp}\n${nonce}\n${body}\n`)
    .digest('base64');
  return {
    'x-vkpay-appid': app.appId,
    'x-vkpay-timestamp': timestamp,
    'x-vkpay-nonce': nonce,
    'x-vkpay-signature': signed,
  };
}

/** The backend as an http.Server (not listening yet). */
export function createShopBackend({ vkPayUrl, appId, secret, type = 'goods' }) {
  let sequence = 0;
  const cors = { 'access-control-allow-origin': '*', 'access-control-allow-headers': 'content-type' };
  return createServer(async (request, response) => {
    const reply = (status, body) =>
      response.writeHead(status, { ...cors, 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (request.method === 'OPTIONS') return response.writeHead(204, cors).end();
    if (request.method !== 'POST' || request.url !== '/checkout') return reply(404, { error: 'not found' });
    let text = '';
    for await (const chunk of request) text += chunk;
    const order = JSON.parse(text || '{}');
    sequence += 1;
    const body = JSON.stringify({
      out_trade_no: `UNI${Date.now()}${String(sequence).padStart(4, '0')}`,
      total_fee: order.total_fee,
      subject: order.subject,
      type,
    });
    const answer = await fetch(`${vkPayUrl.replace(/\/+$/, '')}/api/checkouts`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...signature({ appId, secret }, 'POST', '/api/checkouts', body),
      },
      body,
    }).then((r) => r.json());
    if (answer.code !== 0) return reply(400, answer);
    reply(200, { token: answer.data.checkout.token, outTradeNo: answer.data.order?.out_trade_no });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const port = Number(process.env.PORT ?? 4000);
  createShopBackend({
    vkPayUrl: process.env.VKPAY_URL ?? 'http://127.0.0.1:3000',
    appId: process.env.VKPAY_APP_ID ?? 'demo-app',
    secret: process.env.VKPAY_APP_SECRET,
  }).listen(port, '127.0.0.1', () => console.log(`shop backend on http://127.0.0.1:${port}`));
}
