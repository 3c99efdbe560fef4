import uni from '@dcloudio/vite-plugin-uni';
import { defineConfig } from 'vite';

// VITE_VKPAY_URL (the VK-Pay service) and VITE_SHOP_URL (the shop's backend that issues checkout
// tokens) are read by the page through import.meta.env at build time.
export default defineConfig({
  plugins: [uni()],
});
