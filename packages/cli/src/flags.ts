// Flags several commands declare alike.

/** `--app APP` (`-a`); commands that need it add `required: true`. */
export const APP_FLAG = { type: 'string', value: 'APP', short: 'a', description: 'the app' } as const;

/** `--as NAME`: what prefixes the service's config vars. */
export const AS_FLAG = {
  type: 'string',
  value: 'NAME',
  description: 'the attachment name, which prefixes the config vars (DATABASE gives DATABASE_URL)',
} as const;

export const REPLACE_FLAG = {
  type: 'boolean',
  description: 'take over config vars the app already has under those names',
} as const;

/** `--org ORG` where it is optional: the token's own organization otherwise. */
export const ORG_FLAG = {
  type: 'string',
  value: 'ORG',
  description: "the organization (slug); an org token's own by default",
} as const;

/** `--api URL`: the broker's `/v1` API, where runtimes pull config vars. */
export const API_FLAG = {
  type: 'string',
  value: 'URL',
  description: "the broker's /v1 API (else ANNEX_API_URL, else http://127.0.0.1:4001)",
} as const;

/** `--format env|json|yaml` of pulled config vars. */
export const FORMAT_FLAG = {
  type: 'string',
  value: 'FORMAT',
  description: 'env (NAME=value lines, the default), json or yaml',
} as const;
