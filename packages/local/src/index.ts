export { type LocalConfig, loadLocalConfig } from './config.js';
export { type Marketplace, startMarketplace } from './marketplace.js';
