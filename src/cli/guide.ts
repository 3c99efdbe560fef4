/** What a new user sees on a first run: how to take, pay, query and refund a first payment. */
export function firstRunGuide(url: string): string {
  return `
  VK-Pay is running at ${url} with a demo merchant on the built-in WeChat Pay and Alipay emulators.
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

  API docs: ${url}/docs   health: ${url}/readyz   metrics: ${url}/metrics

`;
}
