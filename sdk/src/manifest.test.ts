import { describe, expect, it } from 'vitest';
import { widgetsManifest } from './__fixtures__/widgets.js';
import { manifestToOsbCatalog, validateManifest } from './index.js';

describe('validateManifest', () => {
  it('accepts a good manifest and fills in defaults', () => {
    const result = validateManifest(widgetsManifest());
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.manifest.listingState).toBe('beta');
      expect(result.manifest.osb.auth).toBe('jwt');
    }
  });

  it('lists every problem, cross-field ones too, even when other fields are invalid', () => {
    const manifest = widgetsManifest() as any;
    manifest.supportEmail = 'nope';
    manifest.services.push({
      ...structuredClone(manifest.services[0]),
      slug: 'widgets',
      configVars: ['lowercase'],
      plans: [{ id: 'plan-small', slug: 'x', description: 'x' }],
    });
    manifest.services[0].plans[1].slug = 'small';
    const result = validateManifest(manifest);
    expect(result.ok).toBe(false);
    const paths = result.ok ? [] : result.problems.map((p) => `${p.path}: ${p.message}`);
    expect(paths).toEqual(
      expect.arrayContaining([
        'supportEmail: Invalid email address',
        'services.1.configVars.0: must be UPPER_SNAKE_CASE (e.g. DATABASE_URL)',
        'services.0.plans.1.slug: duplicate plan slug',
        'services.1.id: duplicate service id',
        'services.1.slug: duplicate service slug',
        'services.1.plans.0.id: duplicate plan id',
      ]),
    );
  });
});

describe('manifest sso', () => {
  it('keeps an http(s) SSO URL and refuses anything else, naming the field', () => {
    const ok = validateManifest({ ...widgetsManifest(), sso: { url: 'https://widgets.example/annex/sso' } });
    expect(ok.ok && ok.manifest.sso).toEqual({ url: 'https://widgets.example/annex/sso' });
    const bad = validateManifest({ ...widgetsManifest(), sso: { url: 'javascript:alert(1)' } });
    expect(bad.ok ? [] : bad.problems.map((p) => p.path)).toEqual(['sso.url']);
    const extra = validateManifest({ ...widgetsManifest(), sso: { url: 'https://w.example/sso', path: '/x' } });
    expect(extra.ok).toBe(false);
  });
});

describe('manifestToOsbCatalog', () => {
  it('derives the OSB catalog in snake_case with schemas in OSB shape', () => {
    const result = validateManifest(widgetsManifest());
    if (!result.ok) throw new Error('fixture invalid');
    const [service] = manifestToOsbCatalog(result.manifest).services as any[];
    expect(service).toMatchObject({
      id: 'svc-widgets',
      name: 'widgets',
      bindable: true,
      plan_updateable: true,
      instances_retrievable: true,
      bindings_retrievable: true,
      metadata: { displayName: 'Widgets', configVars: ['WIDGETS_URL'] },
    });
    expect(service.plans[0]).toMatchObject({ id: 'plan-small', name: 'small', free: true, binding_rotatable: true });
    expect(service.plans[0].schemas.service_instance.create.parameters.required).toEqual(['size']);
    expect(service.plans[0].schemas.service_binding.create.parameters.type).toBe('object');
    expect(service.plans[1]).toMatchObject({ name: 'large', free: false, metadata: { price: { monthly: 1000 } } });
  });
});
