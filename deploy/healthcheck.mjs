// The container's health check: GET /healthz with Node's fetch (slim images have no curl). The admin
// listener when VKPAY_ADMIN_PORT is set (plain HTTP even in production), else the service's port.
// Exit 0 healthy, 1 not.
const port = process.env.VKPAY_ADMIN_PORT || process.env.VKPAY_PORT || process.env.PORT || '3000';
try {
  const answer = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(4000) });
  process.exit(answer.ok ? 0 : 1);
} catch {
  process.exit(1);
}
