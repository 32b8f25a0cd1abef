import { randomInt } from 'node:crypto';

// Human names for add-ons and the config-var names an attachment sets.

const WORDS = [
  'amber',
  'aqua',
  'azure',
  'birch',
  'breeze',
  'cedar',
  'cobalt',
  'copper',
  'coral',
  'crimson',
  'dawn',
  'dune',
  'ember',
  'fern',
  'frost',
  'garnet',
  'granite',
  'harbor',
  'hazel',
  'indigo',
  'ivory',
  'jade',
  'juniper',
  'lagoon',
  'lunar',
  'maple',
  'meadow',
  'mist',
  'moss',
  'nova',
  'ocean',
  'olive',
  'onyx',
  'opal',
  'pine',
  'prairie',
  'quartz',
  'rain',
  'reef',
  'ridge',
  'river',
  'ruby',
  'sage',
  'sierra',
  'silver',
  'slate',
  'solar',
  'spruce',
  'storm',
  'summit',
  'sunset',
  'tidal',
  'timber',
  'topaz',
  'tundra',
  'velvet',
  'willow',
  'zephyr',
];

/** `postgres-amber-4172`: the service's slug, a word and four digits. */
export function generateAddonName(serviceSlug: string): string {
  const base = serviceSlug
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .slice(0, 30);
  return `${base}-${WORDS[randomInt(WORDS.length)]}-${String(randomInt(1000, 10000))}`;
}

export const APP_NAME = /^[a-z][a-z0-9-]{1,29}$/;
export const ATTACHMENT_NAME = /^[A-Z][A-Z0-9_]{0,39}$/;
export const CONFIG_VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** The declared vars of a service split into a shared prefix (the default attachment name) and suffixes. */
export interface VarLayout {
  defaultName: string;
  /** Suffixes after `<name>_`, e.g. `URL` for `DATABASE_URL`. */
  suffixes: string[];
  /** The declared names, in the order of `suffixes`. */
  declared: string[];
}

/**
 * `['OPENAI_API_KEY', 'OPENAI_BASE_URL']` → default name `OPENAI`, suffixes `API_KEY`, `BASE_URL`.
 * A service that declares no vars uses its slug as the name and the credentials' keys as suffixes.
 */
export function varLayout(serviceSlug: string, declared: readonly string[]): VarLayout {
  const fallbackName =
    serviceSlug
      .toUpperCase()
      .replace(/[^A-Z0-9]+/g, '_')
      .replace(/^_+|_+$/g, '') || 'ADDON';
  if (declared.length === 0) {
    return {
      defaultName: /^[A-Z]/.test(fallbackName) ? fallbackName : `A_${fallbackName}`,
      suffixes: [],
      declared: [],
    };
  }
  const parts = declared.map((name) => name.split('_'));
  let shared = 0;
  const first = parts[0] ?? [];
  while (shared < first.length - 1 && parts.every((p) => p.length - 1 > shared && p[shared] === first[shared])) {
    shared++;
  }
  if (shared === 0) return { defaultName: fallbackName, suffixes: [...declared], declared: [...declared] };
  return {
    defaultName: first.slice(0, shared).join('_'),
    suffixes: parts.map((p) => p.slice(shared).join('_')),
    declared: [...declared],
  };
}

/** The var names an attachment named `name` sets. */
export function attachmentVarNames(layout: VarLayout, name: string, credentialKeys: readonly string[] = []): string[] {
  const suffixes = layout.suffixes.length > 0 ? layout.suffixes : credentialKeys.map(credentialSuffix);
  return suffixes.map((suffix) => `${name}_${suffix}`);
}

function credentialSuffix(key: string): string {
  return key
    .toUpperCase()
    .replace(/[^A-Z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

/**
 * Maps a binding's credentials to the attachment's vars: the declared var's full name, or its suffix
 * in any case, or (for `…URL`) the OSB-customary `uri` / `url`.
 */
export function credentialsToVars(
  layout: VarLayout,
  name: string,
  credentials: Record<string, unknown>,
): { vars: Record<string, string>; missing: string[] } {
  const vars: Record<string, string> = {};
  const missing: string[] = [];
  const text = (v: unknown) =>
    typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
  if (layout.suffixes.length === 0) {
    for (const [key, value] of Object.entries(credentials)) {
      const v = text(value);
      if (v !== undefined && credentialSuffix(key)) vars[`${name}_${credentialSuffix(key)}`] = v;
    }
    return { vars, missing };
  }
  for (const [i, suffix] of layout.suffixes.entries()) {
    const declared = layout.declared[i] ?? suffix;
    const candidates = [
      declared,
      suffix,
      suffix.toLowerCase(),
      ...(suffix.endsWith('URL') ? ['uri', 'url', 'URI'] : []),
    ];
    const value = candidates.map((k) => text(credentials[k])).find((v) => v !== undefined);
    if (value === undefined) missing.push(`${name}_${suffix}`);
    else vars[`${name}_${suffix}`] = value;
  }
  return { vars, missing };
}
