import { html, type SafeHtml } from './html.js';

// A plan's provisioning parameters as a form, from its JSON Schema (the `create`
// parameters of OSB's `schemas.service_instance`). Top-level properties only: strings,
// numbers, integers, booleans and enums get their own control; anything else a JSON box.

interface PropertySchema {
  type?: string | string[];
  enum?: unknown[];
  title?: string;
  description?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
}

export interface ParametersSchema {
  properties: Record<string, PropertySchema>;
  required: string[];
}

/** The create-parameters schema of a plan's `schemas`, or null when it has none. */
export function parametersSchemaOf(schemas: unknown): ParametersSchema | null {
  const parameters = (schemas as { service_instance?: { create?: { parameters?: unknown } } } | null)?.service_instance
    ?.create?.parameters as { properties?: unknown; required?: unknown } | undefined;
  if (!parameters || typeof parameters.properties !== 'object' || parameters.properties === null) return null;
  const properties = parameters.properties as Record<string, PropertySchema>;
  if (Object.keys(properties).length === 0) return null;
  return {
    properties,
    required: Array.isArray(parameters.required) ? parameters.required.filter((r) => typeof r === 'string') : [],
  };
}

const typeOf = (p: PropertySchema) => (Array.isArray(p.type) ? p.type.find((t) => t !== 'null') : p.type);

/** The form controls; each is labelled, with its description tied by aria-describedby. */
export function parametersFields(
  schema: ParametersSchema,
  idPrefix: string,
  values: Record<string, unknown> = {},
): SafeHtml {
  return html`${Object.entries(schema.properties).map(([name, p]) => {
    const id = `${idPrefix}-${name}`;
    const required = schema.required.includes(name);
    const label = html`<label for="${id}">${p.title ?? name}${required ? html` <span class="req">(required)</span>` : ''}</label>`;
    const help = p.description ? html`<p class="help" id="${id}-help">${p.description}</p>` : '';
    const described = p.description ? html` aria-describedby="${id}-help"` : '';
    const req = required ? html` required` : '';
    const value = values[name] ?? p.default;
    const type = typeOf(p);
    let control: SafeHtml;
    if (p.enum) {
      control = html`<select id="${id}" name="p.${name}"${req}${described}>${required ? '' : html`<option value="">(default)</option>`}${p.enum.map(
        (option) =>
          html`<option value="${String(option)}"${option === value ? html` selected` : ''}>${String(option)}</option>`,
      )}</select>`;
    } else if (type === 'boolean') {
      return html`<div class="field check"><input type="checkbox" id="${id}" name="p.${name}" value="true"${value === true ? html` checked` : ''}${described}> ${label}${help}</div>`;
    } else if (type === 'integer' || type === 'number') {
      control = html`<input type="number" id="${id}" name="p.${name}"${type === 'integer' ? html` step="1"` : html` step="any"`}${p.minimum !== undefined ? html` min="${p.minimum}"` : ''}${p.maximum !== undefined ? html` max="${p.maximum}"` : ''} value="${value === undefined ? '' : String(value)}"${req}${described}>`;
    } else if (type === 'string' || type === undefined) {
      control = html`<input type="text" id="${id}" name="p.${name}"${p.maxLength !== undefined ? html` maxlength="${p.maxLength}"` : ''}${p.pattern ? html` pattern="${p.pattern}"` : ''} value="${value === undefined ? '' : String(value)}"${req}${described}>`;
    } else {
      control = html`<textarea id="${id}" name="p.${name}" rows="3"${req}${described}>${value === undefined ? '' : JSON.stringify(value)}</textarea>`;
    }
    return html`<div class="field">${label}${control}${help}</div>`;
  })}`;
}

/**
 * Reads the form's `p.<name>` fields back into parameters typed by the schema. Empty
 * optional fields are left out; a value that does not fit its type is reported by name.
 */
export function readParameters(
  schema: ParametersSchema | null,
  form: Record<string, unknown>,
): { parameters: Record<string, unknown>; problems: string[] } {
  const parameters: Record<string, unknown> = {};
  const problems: string[] = [];
  if (!schema) return { parameters, problems };
  for (const [name, p] of Object.entries(schema.properties)) {
    const raw = form[`p.${name}`];
    const text = typeof raw === 'string' ? raw.trim() : Array.isArray(raw) ? String(raw[raw.length - 1]) : undefined;
    const type = typeOf(p);
    if (type === 'boolean') {
      parameters[name] = text === 'true';
      continue;
    }
    if (text === undefined || text === '') continue;
    if (p.enum) {
      const match = p.enum.find((option) => String(option) === text);
      if (match === undefined) problems.push(`${name}: must be one of ${p.enum.map(String).join(', ')}`);
      else parameters[name] = match;
    } else if (type === 'integer' || type === 'number') {
      const n = Number(text);
      if (!Number.isFinite(n) || (type === 'integer' && !Number.isInteger(n)))
        problems.push(`${name}: must be ${type === 'integer' ? 'an integer' : 'a number'}`);
      else parameters[name] = n;
    } else if (type === 'string' || type === undefined) {
      parameters[name] = text;
    } else {
      try {
        parameters[name] = JSON.parse(text);
      } catch {
        problems.push(`${name}: must be JSON`);
      }
    }
  }
  return { parameters, problems };
}
