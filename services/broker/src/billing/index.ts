export { type PriceNotice, priceNotice, requirePaymentMethod } from './domain/accounts.js';
export { type Billing, createBilling } from './domain/context.js';
export { closeInterval, openInterval, splitInterval } from './domain/ledger.js';
export { allowance, recordUsage } from './domain/usage.js';
export { type BillingJobKinds, billingJobKinds, billingSchedules } from './domain/worker.js';
export { billingProviderRoutes } from './http/provider-routes.js';
export { billingRouter } from './http/router.js';
