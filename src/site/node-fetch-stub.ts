// tfjs-core requires `node-fetch` only when it runs in Node; its package.json maps it to false for
// browsers, but Vite's dev pre-bundler still imports it. astro.config.mjs aliases it to this stub.
export default undefined;
