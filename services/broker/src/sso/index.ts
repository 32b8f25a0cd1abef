export { ssoRouter } from './http/router.js';
