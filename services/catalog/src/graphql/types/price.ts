import type { MeteredPrice, Price } from '../../domain/model.js';
import { builder } from '../builder.js';

export const MeteredPriceRef = builder.objectRef<MeteredPrice>('MeteredPrice').implement({
  description: 'A usage-based price, e.g. per 1K tokens.',
  fields: (t) => ({
    unit: t.exposeString('unit', { description: 'What is counted, e.g. `1k_tokens`.' }),
    price: t.exposeFloat('price', { description: "Price of one unit in minor units of the plan's currency." }),
    description: t.exposeString('description', { nullable: true }),
  }),
});

export const PriceRef = builder.objectRef<Price>('Price').implement({
  fields: (t) => ({
    monthly: t.exposeInt('monthly', {
      description: 'Monthly amount in minor units (cents); charged per second, capped at this per month.',
    }),
    currency: t.exposeString('currency', { description: 'Lowercase ISO 4217 code, e.g. `usd`.' }),
    metered: t.field({ type: [MeteredPriceRef], resolve: (price) => price.metered }),
  }),
});

export const MaintenanceInfoRef = builder
  .objectRef<{ version: string; description: string | null }>('MaintenanceInfo')
  .implement({
    fields: (t) => ({
      version: t.exposeString('version'),
      description: t.exposeString('description', { nullable: true }),
    }),
  });
