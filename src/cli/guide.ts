import {
  DEMO_APPLE_BUNDLE_ID,
  DEMO_DOUYIN_APP_ID,
  DEMO_PRODUCT_ID,
  DEMO_VIRTUAL_APP_ID,
} from './demo-merchants.ts';

/**
 * The guide's steps for the mini program and store emulators, shell commands (curl and jq) that
 * create, pay as the buyer and query one payment each.
 */
export function gatewaySteps(url: string): string {
  const json = `-H 'content-type: application/json'`;
  return `  6. Douyin mini app (general trade system; steps 6 to 8 pass answers on with jq): create; the
     mini app hands the answer to tt.requestOrder (the emulator's request-order), the buyer pays
     at the cashier; query
     curl -s -X POST ${url}/api/payments ${json} \\
       -d '{"provider":"douyin","scene":"miniprogram","out_trade_no":"FIRST0003","total_fee":600,"subject":"first douyin","type":"goods"}' \\
       | jq -c .data.payment | curl -s -X POST ${url}/sandbox/douyin/sandbox/request-order ${json} -d @-
     curl -s -X POST ${url}/sandbox/douyin/sandbox/orders/${DEMO_DOUYIN_APP_ID}/FIRST0003/pay
     curl -s ${url}/api/payments/FIRST0003

  7. WeChat mini program virtual payment: the buyer logs in (wx.login: an openid and a session_key),
     the order is created with both, wx.requestVirtualPayment confirms it; query
     SESSION_KEY=$(curl -s -X POST ${url}/sandbox/wxpay-virtual/sandbox/apps/${DEMO_VIRTUAL_APP_ID}/sessions ${json} \\
       -d '{"openid":"demo-buyer"}' | jq -r .session_key)
     curl -s -X POST ${url}/api/payments ${json} \\
       -d '{"provider":"wxpay-virtual","scene":"miniprogram","out_trade_no":"FIRST0004","total_fee":600,"subject":"sixty coins","type":"goods","openid":"demo-buyer","session_key":"'"$SESSION_KEY"'","other":{"productId":"${DEMO_PRODUCT_ID}"}}' \\
       | jq -c '.data.payment + {openid: "demo-buyer"}' \\
       | curl -s -X POST ${url}/sandbox/wxpay-virtual/sandbox/apps/${DEMO_VIRTUAL_APP_ID}/payments ${json} -d @-
     curl -s ${url}/api/payments/FIRST0004

  8. App Store in-app purchase: create (the answer's appAccountToken goes with the purchase), the
     buyer buys on the emulator, the app hands the transaction over; query
     TOKEN=$(curl -s -X POST ${url}/api/payments ${json} \\
       -d '{"provider":"appleiap","scene":"app","out_trade_no":"FIRST0005","total_fee":600,"subject":"sixty coins","type":"goods","other":{"productId":"${DEMO_PRODUCT_ID}"}}' \\
       | jq -r .data.payment.appAccountToken)
     TRANSACTION=$(curl -s -X POST ${url}/sandbox/appleiap/sandbox/purchases ${json} \\
       -d '{"bundleId":"${DEMO_APPLE_BUNDLE_ID}","productId":"${DEMO_PRODUCT_ID}","environment":"Sandbox","appAccountToken":"'"$TOKEN"'"}' \\
       | jq -r .transactionId)
     curl -s -X POST ${url}/api/store-purchases ${json} \\
       -d '{"provider":"appleiap","transaction_id":"'"$TRANSACTION"'","out_trade_no":"FIRST0005"}'
     curl -s ${url}/api/payments/FIRST0005
`;
}

/** What a new user sees on a first run: how to take, pay, query and refund a first payment. */
export function firstRunGuide(url: string): string {
  return `
  VK-Pay is running at ${url} with a demo merchant on the built-in WeChat Pay, Alipay, Douyin,
  WeChat virtual payment and App Store emulators.
  Take a first payment (development mode: requests need no signature):

  1. create a PC QR-code payment of 0.01 yuan
     curl -s -X POST ${url}/api/payments -H 'content-type: application/json' \\
       -d '{"provider":"wxpay","scene":"native","out_trade_no":"FIRST0001","total_fee":1,"subject":"first payment","type":"goods"}'

  2. pay it as the buyer: open ${url}/sandbox/wxpay/sandbox/payer/ and press Pay,
     or: curl -s -X POST ${url}/sandbox/wxpay/sandbox/trades/1900000109/FIRST0001/pay

  3. the emulator calls back ${url}/notify/wxpay/demo; VK-Pay sends a signed payment.succeeded
     webhook to the demo merchant's backend (the built-in receiver: ${url}/sandbox/webhooks/),
     whose acknowledgement completes the order (user_order_success: true)
     curl -s '${url}/api/payments/FIRST0001?await_notify=true'
     curl -s ${url}/api/webhooks/events

  4. refund it
     curl -s -X POST ${url}/api/refunds -H 'content-type: application/json' \\
       -d '{"out_trade_no":"FIRST0001","out_refund_no":"FIRST0001-R1","refund_fee":1}'
     curl -s -X POST ${url}/sandbox/wxpay/sandbox/refunds/1900000109/FIRST0001-R1/succeed
     curl -s ${url}/api/refunds/FIRST0001-R1

  5. the same with Alipay (QR code): create, "scan" and pay, then query
     curl -s -X POST ${url}/api/payments -H 'content-type: application/json' \\
       -d '{"provider":"alipay","scene":"native","out_trade_no":"FIRST0002","total_fee":8880,"subject":"first alipay","type":"goods"}'
     open the returned payment.codeUrl in a browser and press 付款 (pay), or:
     curl -s -X POST ${url}/sandbox/alipay/sandbox/alipay/trades/2021000000000001/FIRST0002/scan
     curl -s -X POST ${url}/sandbox/alipay/sandbox/alipay/trades/2021000000000001/FIRST0002/pay
     curl -s ${url}/api/payments/FIRST0002

${gatewaySteps(url)}
  API docs: ${url}/docs   health: ${url}/readyz   metrics: ${url}/metrics

`;
}
