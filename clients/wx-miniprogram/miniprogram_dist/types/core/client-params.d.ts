/**
 * What a client needs to invoke a payment in its scene: the server's providers produce it, the
 * browser SDK and the cashier consume it, so it lives here, below both.
 */
/** What the client needs to invoke the payment in its scene. */
export type ClientPayParams = 
/** JSAPI and mini program: the arguments of wx.requestPayment / WeixinJSBridge. */
{
    scene: 'jsapi' | 'miniprogram';
    appId: string;
    timeStamp: string;
    nonceStr: string;
    package: string;
    /** RSA on APIv3; MD5 or HMAC-SHA256 on an APIv2 account. */
    signType: 'RSA' | 'MD5' | 'HMAC-SHA256';
    paySign: string;
}
/** APP: the arguments of the WeChat SDK's PayReq. */
 | {
    scene: 'app';
    appid: string;
    partnerid: string;
    prepayid: string;
    package: 'Sign=WXPay';
    noncestr: string;
    timestamp: string;
    sign: string;
}
/** H5: the page to open in the mobile browser. */
 | {
    scene: 'h5';
    h5Url: string;
}
/** PC QR code: the text to render as a QR code. */
 | {
    scene: 'native';
    codeUrl: string;
}
/** Alipay page/WAP pay: a URL to redirect to, or an auto-submitting form. */
 | {
    scene: 'pc' | 'h5';
    payUrl: string;
    form?: string;
}
/** Alipay APP: the signed order string for the SDK. */
 | {
    scene: 'app';
    orderString: string;
}
/** Payment code at the counter: nothing for a client to invoke, the counter scanned the buyer's code. */
 | {
    scene: 'micropay';
}
/** Alipay mini program: the trade number for my.tradePay. */
 | {
    scene: 'miniprogram';
    tradeNO: string;
}
/** Apple in-app purchase: StoreKit's product and the purchase option appAccountToken. */
 | {
    scene: 'app';
    productId: string;
    appAccountToken: string;
}
/** WeChat mini program virtual payment: the arguments of wx.requestVirtualPayment. */
 | {
    scene: 'miniprogram';
    mode: 'short_series_goods' | 'short_series_coin';
    signData: string;
    paySig: string;
    signature: string;
}
/** Douyin general trade system: the arguments of tt.requestOrder (the order JSON and its signature). */
 | {
    scene: 'miniprogram';
    data: string;
    byteAuthorization: string;
}
/** Douyin guaranteed payment: the arguments of tt.pay. */
 | {
    scene: 'miniprogram';
    orderInfo: {
        order_id: string;
        order_token: string;
    };
    service: 5;
};
