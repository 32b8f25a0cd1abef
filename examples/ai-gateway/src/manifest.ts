import type { ProviderManifestInput } from '@annex/sdk';
import { PLAN_LIMITS } from './plans.js';

export const PROVIDER_SLUG = 'annex-ai';
export const SERVICE_ID = '7d5e3c74-6c77-4020-9c82-80f2c403c003';
export const STARTER_PLAN_ID = '7d5e3c74-6c77-4020-9c82-80f2c403c301';
export const SCALE_PLAN_ID = '7d5e3c74-6c77-4020-9c82-80f2c403c302';

const limitsMetadata = (slug: 'starter' | 'scale') => {
  const limits = PLAN_LIMITS[slug];
  return { requestsPerMinute: limits?.requestsPerMinute, tokensPerMonth: limits?.tokensPerMonth };
};

/**
 * The gateway's provider manifest, served at `url` (the broker calls `${url}/v2/...`; apps
 * call the OpenAI API at `${url}/v1`).
 *
 * @example
 * const input = manifest('http://127.0.0.1:4103');
 * input.osb; // { url: 'http://127.0.0.1:4103', auth: 'jwt' }
 */
export function manifest(url: string): ProviderManifestInput {
  return {
    slug: PROVIDER_SLUG,
    name: 'Annex AI Gateway',
    description:
      'An OpenAI-compatible endpoint with an API key per attachment, per-plan rate limits and token quotas, and token metering.',
    supportEmail: 'support@annex.example',
    listingState: 'beta',
    osb: { url: url.replace(/\/+$/, ''), auth: 'jwt' },
    services: [
      {
        id: SERVICE_ID,
        slug: 'ai-gateway',
        name: 'AI Model Gateway',
        description:
          'Chat completions (streaming or not), embeddings and the model list through one OpenAI-compatible endpoint, metered per token.',
        category: 'ai-models',
        tags: ['llm', 'openai', 'embeddings', 'chat'],
        bindable: true,
        planUpdateable: true,
        configVars: ['OPENAI_API_KEY', 'OPENAI_BASE_URL'],
        regions: ['local'],
        plans: [
          {
            id: STARTER_PLAN_ID,
            slug: 'starter',
            description: '20 requests a minute, 100k tokens a month.',
            free: true,
            metadata: limitsMetadata('starter'),
          },
          {
            id: SCALE_PLAN_ID,
            slug: 'scale',
            description: '600 requests a minute, up to 10M tokens a month, metered per 1k tokens.',
            price: {
              monthly: 2000,
              currency: 'usd',
              metered: [{ unit: '1k_tokens', price: 0.2, description: 'per 1,000 tokens' }],
            },
            metadata: limitsMetadata('scale'),
          },
        ],
      },
    ],
  };
}
