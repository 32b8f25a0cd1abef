import { createApiToken } from '@annex/platform';
import { testDatabaseKinds } from '@annex/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSession, upsertUser } from './sessions.js';
import { inputValue, TestClient } from './test-client.js';
import { type ConsoleStack, signInAsDeveloper, signInAsMember, startConsoleStack } from './testing.js';

// The app page's forms over a real catalog, broker and provider: detach, change plan,
// rotate, destroy, set and unset config vars, roll back. Each needs the session's CSRF
// token and the organization's admin role; a refusal changes nothing and says why.

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface AppSnapshot {
  releaseVersion: number;
  addons: { name: string; planSlug: string; state: string }[];
  attachments: { name: string; state: string; addon: { name: string } }[];
  configVars: { name: string; owner: string; value: string | null }[];
}

describe.each(testDatabaseKinds('console app actions'))('the app page forms on $name', (kind) => {
  let stack: ConsoleStack;
  let admin: TestClient;
  let csrf: string;
  let addon: string;

  /** The catalog, asked with the demo organization's token (it reads values: `config:read`). */
  const gql = async <T>(query: string, variables: Record<string, unknown>): Promise<T> => {
    const res = await fetch(`${stack.catalogUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.orgToken}` },
      body: JSON.stringify({ query, variables }),
    });
    return ((await res.json()) as { data: T }).data;
  };
  /** The app as the catalog has it, values included: what a form changed. */
  const snapshot = async (app: string): Promise<AppSnapshot> =>
    (
      await gql<{ app: AppSnapshot }>(
        `query($name: String!) { app(name: $name) { releaseVersion
          addons { name planSlug state } attachments { name state addon { name } } configVars { name owner value } } }`,
        { name: app },
      )
    ).app;
  /** Polls the app until `done` holds (the broker finishes add-on work in the background). */
  const eventually = async (app: string, done: (s: AppSnapshot) => boolean): Promise<AppSnapshot> => {
    let state = await snapshot(app);
    for (let i = 0; i < 150 && !done(state); i++) {
      await sleep(100);
      state = await snapshot(app);
    }
    expect(done(state), JSON.stringify(state)).toBe(true);
    return state;
  };
  const settled = (s: AppSnapshot) =>
    s.addons.every((o) => o.state === 'PROVISIONED') && s.attachments.every((a) => a.state === 'ATTACHED');
  const post = (client: TestClient, path: string, form: Record<string, string>) =>
    client.request(`${stack.consoleUrl}${path}`, { form });

  beforeAll(async () => {
    stack = await startConsoleStack({}, kind);
    admin = await signInAsDeveloper(stack);
    csrf = inputValue((await admin.request(`${stack.consoleUrl}/apps`)).body, '_csrf');
    // shop owns a key-value add-on; worker attaches it too, so worker can detach it.
    for (const name of ['shop', 'worker']) {
      expect((await post(admin, '/apps', { _csrf: csrf, name })).status).toBe(303);
    }
    const attached = await post(admin, '/services/console-kv/attach', {
      _csrf: csrf,
      app: 'shop',
      plan: 'hobby',
      parameters: '{"region":"eu-west"}',
    });
    expect(attached.status).toBe(303);
    addon = new URL(attached.location as string).searchParams.get('created') as string;
    await eventually('shop', (s) => s.attachments.length === 1 && settled(s));
    const shared = await gql<{ attachAddon: { __typename: string } }>(
      'mutation($input: AttachAddonInput!) { attachAddon(input: $input) { __typename } }',
      { input: { app: 'worker', addon } },
    );
    expect(shared.attachAddon.__typename).toBe('AttachAddonSuccess');
    await eventually('worker', (s) => s.attachments.length === 1 && settled(s));
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
  });

  /** Every form of the app page, with what it needs besides the CSRF token. */
  const everyForm = (): { path: string; form: Record<string, string> }[] => [
    { path: '/apps/worker/attachments/KV/detach', form: { app: 'worker' } },
    { path: `/addons/${addon}/plan`, form: { app: 'shop', plan: 'pro' } },
    { path: `/addons/${addon}/rotate`, form: { app: 'shop' } },
    { path: `/addons/${addon}/destroy`, form: { app: 'shop', confirm: addon } },
    { path: '/apps/shop/config', form: { name: 'FORBIDDEN', value: 'x' } },
    { path: '/apps/shop/config', form: { name: 'KV_URL', unset: '1' } },
    { path: '/apps/shop/rollback', form: { version: '1' } },
  ];

  it('offers the forms to admins, with the CSRF token, and none to members', async () => {
    const page = await admin.request(`${stack.consoleUrl}/apps/shop`);
    expect(page.status).toBe(200);
    expect(page.body).toContain(`action="/addons/${addon}/plan"`);
    expect(page.body).toMatch(
      /<select id="addon-[^"]+-plan" name="plan" required><option value="pro">pro \(\$25\.00\/month\)<\/option><\/select>/,
    );
    expect(page.body).not.toContain('<option value="hobby">');
    expect(page.body).toContain(`action="/addons/${addon}/rotate"`);
    expect(page.body).toContain(`Type <code>${addon}</code> to destroy it`);
    expect(page.body).toContain('action="/apps/shop/config"');
    // The add-on's own var offers no Unset: it changes with the add-on.
    expect(page.body).not.toContain('aria-label="Unset KV_URL"');
    // Detach only where it can work: on worker's attachment of shop's add-on, not on shop's own.
    expect(page.body).not.toContain('/detach"');
    const worker = await admin.request(`${stack.consoleUrl}/apps/worker`);
    expect(worker.body).toContain('action="/apps/worker/attachments/KV/detach"');
    // Every form carries the session's token.
    const forms = page.body.match(/<form method="post"[\s\S]*?<\/form>/g) ?? [];
    expect(forms.length).toBeGreaterThan(4);
    for (const form of forms) expect(form).toContain(`name="_csrf" value="${csrf}"`);

    const member = await signInAsMember(stack, 'mia');
    const seen = await member.request(`${stack.consoleUrl}/apps/shop`);
    expect(seen.status).toBe(200);
    expect(seen.body).toContain('Changing add-ons, config vars and releases needs the admin role in demo.');
    expect(seen.body).not.toMatch(/action="\/addons\/[^"]+\/(plan|rotate|destroy)"/);
    expect(seen.body).not.toMatch(/action="\/apps\/shop\/(config|rollback)"/);
    expect(seen.body).not.toContain('/detach"');
    expect(seen.body).toContain('Open dashboard');
  });

  it("opens the provider's dashboard as the signed-in person: the development user, and a member without an email", async () => {
    /** "Open dashboard" on an app's page, then the provider's page it leads to: who arrived there. */
    const openDashboard = async (client: TestClient, app: string) => {
      const page = await client.request(`${stack.consoleUrl}/apps/${app}`);
      const sent = await post(client, `/addons/${addon}/sso`, { _csrf: inputValue(page.body, '_csrf'), app });
      expect(sent.status, sent.body).toBe(303);
      expect(sent.location).toMatch(new RegExp(`^${stack.providerUrl}/sso\\?token=`));
      const arrivals = stack.ssoArrivals.length;
      expect((await fetch(sent.location as string)).status).toBe(200);
      expect(stack.ssoArrivals.length).toBe(arrivals + 1);
      return stack.ssoArrivals.at(-1);
    };
    const userId = async (subject: string) =>
      (
        await stack.database.db
          .selectFrom('users')
          .select('id')
          .where('oidc_subject', '=', subject)
          .executeTakeFirstOrThrow()
      ).id;

    const fromShop = await openDashboard(admin, 'shop');
    expect(fromShop?.user).toStrictEqual({
      id: await userId('developer'),
      name: 'Development user',
      email: 'developer@localhost',
      kind: 'person',
    });
    expect(fromShop).toMatchObject({ app: { name: 'shop' }, addon: { name: addon }, org: { slug: 'demo' } });
    expect((await openDashboard(admin, 'worker'))?.app?.name).toBe('worker');

    const noa = await signInAsMember(stack, 'noa', '');
    expect((await openDashboard(noa, 'shop'))?.user).toStrictEqual({
      id: await userId('noa'),
      name: 'noa',
      kind: 'person',
    });
  });

  it('refuses every form without the CSRF token, or with a wrong one, and changes nothing', async () => {
    const before = { shop: await snapshot('shop'), worker: await snapshot('worker') };
    for (const { path, form } of everyForm()) {
      for (const token of [{}, { _csrf: 'not-the-token' }] as Record<string, string>[]) {
        const refused = await post(admin, path, { ...form, ...token });
        expect(refused.status, path).toBe(403);
        expect(refused.body).toContain('CSRF check failed');
      }
    }
    expect({ shop: await snapshot('shop'), worker: await snapshot('worker') }).toEqual(before);
    // With the token, the same kind of form goes through (then is undone).
    for (const form of [
      { name: 'CHECKED', value: 'yes' },
      { name: 'CHECKED', unset: '1' },
    ] as Record<string, string>[]) {
      expect((await post(admin, '/apps/shop/config', { ...form, _csrf: csrf })).status).toBe(303);
    }
    expect((await snapshot('shop')).releaseVersion).toBe(before.shop.releaseVersion + 2);
  });

  it('refuses every form to a member of the organization (403) and changes nothing', async () => {
    const member = await signInAsMember(stack, 'milo');
    const memberCsrf = inputValue((await member.request(`${stack.consoleUrl}/apps/shop`)).body, '_csrf');
    const before = { shop: await snapshot('shop'), worker: await snapshot('worker') };
    for (const { path, form } of everyForm()) {
      const refused = await post(member, path, { ...form, _csrf: memberCsrf });
      expect(refused.status, path).toBe(403);
      expect(refused.body).toMatch(/needs the admin role in demo; nothing was changed\./);
    }
    expect({ shop: await snapshot('shop'), worker: await snapshot('worker') }).toEqual(before);
  });

  it('sets and unsets a config var, each a release with its diff', async () => {
    const before = await snapshot('shop');
    const set = await post(admin, '/apps/shop/config', { _csrf: csrf, name: 'GREETING', value: 'hello <world>' });
    expect(set).toMatchObject({ status: 303, location: `${stack.consoleUrl}/apps/shop?done=config` });
    const afterSet = await snapshot('shop');
    expect(afterSet.releaseVersion).toBe(before.releaseVersion + 1);
    expect(afterSet.configVars).toContainEqual({ name: 'GREETING', owner: 'user', value: 'hello <world>' });
    const page = await admin.request(`${stack.consoleUrl}/apps/shop?done=config&reveal=1`);
    expect(page.body).toContain('Config vars changed: see the new release.');
    expect(page.body).toMatch(
      new RegExp(
        `<strong>v${afterSet.releaseVersion}</strong> · Set GREETING[\\s\\S]*?<li class="diff-added">[\\s\\S]*?<code>GREETING</code>`,
      ),
    );
    // The value is escaped wherever it shows.
    expect(page.body).toContain('<code class="value">hello &lt;world&gt;</code>');
    expect(page.body).not.toContain('<world>');
    expect(page.body).toContain('aria-label="Unset GREETING"');

    // The same value again changes nothing, and says so.
    const again = await post(admin, '/apps/shop/config', { _csrf: csrf, name: 'GREETING', value: 'hello <world>' });
    expect(again.location).toBe(`${stack.consoleUrl}/apps/shop?done=unchanged`);
    expect((await snapshot('shop')).releaseVersion).toBe(afterSet.releaseVersion);

    const unset = await post(admin, '/apps/shop/config', { _csrf: csrf, name: 'GREETING', unset: '1' });
    expect(unset).toMatchObject({ status: 303, location: `${stack.consoleUrl}/apps/shop?done=config` });
    const afterUnset = await snapshot('shop');
    expect(afterUnset.releaseVersion).toBe(afterSet.releaseVersion + 1);
    expect(afterUnset.configVars.map((v) => v.name)).not.toContain('GREETING');
    const unsetPage = await admin.request(`${stack.consoleUrl}/apps/shop`);
    expect(unsetPage.body).toMatch(
      new RegExp(
        `<strong>v${afterUnset.releaseVersion}</strong>[\\s\\S]*?<li class="diff-removed">[\\s\\S]*?<code>GREETING</code>`,
      ),
    );
  });

  it('refuses a bad config var with a 400 naming what is wrong, keeps the form, and changes nothing', async () => {
    const before = await snapshot('shop');
    const bad = await post(admin, '/apps/shop/config', { _csrf: csrf, name: '1<b>BAD', value: 'kept value' });
    expect(bad.status).toBe(400);
    expect(bad.body).toContain('<p role="alert" class="error">vars.1&lt;b&gt;BAD: is not a valid config var name</p>');
    expect(bad.body).not.toContain('<b>BAD');
    // The app page again, with what was typed, to fix.
    expect(bad.body).toContain('<h1>shop</h1>');
    expect(bad.body).toContain('value="1&lt;b&gt;BAD"');
    expect(bad.body).toContain('value="kept value"');
    const empty = await post(admin, '/apps/shop/config', { _csrf: csrf, name: '  ', value: 'x' });
    expect(empty.status).toBe(400);
    expect(empty.body).toContain('Give the config var&#39;s name.');
    const noValue = await post(admin, '/apps/shop/config', { _csrf: csrf, name: 'NO_VALUE' });
    expect(noValue.status).toBe(400);
    expect(noValue.body).toContain('Give a value for NO_VALUE (it may be empty).');
    // An add-on's var belongs to its attachment: the catalog refuses, and the page says why.
    const owned = await post(admin, '/apps/shop/config', { _csrf: csrf, name: 'KV_URL', unset: '1' });
    expect(owned.status).toBe(409);
    expect(owned.body).toContain('config var KV_URL is owned by attachment KV; detach or rotate it instead');
    const missing = await post(admin, '/apps/shop/config', { _csrf: csrf, name: 'NEVER_SET', unset: '1' });
    expect(missing.status).toBe(404);
    expect(missing.body).toContain('config var NEVER_SET is not set on shop');
    expect(await snapshot('shop')).toEqual(before);
  });

  it('rolls back to an earlier release, and refuses a version that is not one', async () => {
    expect((await post(admin, '/apps/shop/config', { _csrf: csrf, name: 'MODE', value: 'blue' })).status).toBe(303);
    const blue = await snapshot('shop');
    expect((await post(admin, '/apps/shop/config', { _csrf: csrf, name: 'MODE', value: 'green' })).status).toBe(303);
    const page = await admin.request(`${stack.consoleUrl}/apps/shop`);
    expect(page.body).toContain(`Roll back to v${blue.releaseVersion}</button>`);
    // The current release offers no rollback to itself.
    expect(page.body).not.toContain(`Roll back to v${blue.releaseVersion + 1}</button>`);

    const rolled = await post(admin, '/apps/shop/rollback', { _csrf: csrf, version: String(blue.releaseVersion) });
    expect(rolled).toMatchObject({ status: 303, location: `${stack.consoleUrl}/apps/shop?done=rollback` });
    const after = await snapshot('shop');
    expect(after.releaseVersion).toBe(blue.releaseVersion + 2);
    expect(after.configVars).toEqual(blue.configVars);
    const shown = await admin.request(`${stack.consoleUrl}/apps/shop?done=rollback`);
    expect(shown.body).toContain(`<strong>v${after.releaseVersion}</strong> · Rollback to v${blue.releaseVersion}`);

    for (const version of ['', 'abc', '0', '-1', '1.5', '99999999999']) {
      const refused = await post(admin, '/apps/shop/rollback', { _csrf: csrf, version });
      expect(refused.status, version).toBe(400);
      expect(refused.body).toContain('Choose a release to roll back to');
    }
    const unknown = await post(admin, '/apps/shop/rollback', { _csrf: csrf, version: '999' });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toContain('release v999 of shop not found');
    // Rolling back to what the vars already are is a conflict, not a new release.
    const same = await post(admin, '/apps/shop/rollback', { _csrf: csrf, version: String(blue.releaseVersion) });
    expect(same.status).toBe(409);
    expect(await snapshot('shop')).toEqual(after);
  });

  it('rotates the credentials: a new release with new values', async () => {
    const before = await snapshot('shop');
    const url = before.configVars.find((v) => v.name === 'KV_URL')?.value;
    const rotated = await post(admin, `/addons/${addon}/rotate`, { _csrf: csrf, app: 'shop' });
    expect(rotated).toMatchObject({ status: 303, location: `${stack.consoleUrl}/apps/shop?done=rotated` });
    const after = await eventually('shop', (s) => s.releaseVersion > before.releaseVersion && settled(s));
    expect(after.configVars.find((v) => v.name === 'KV_URL')?.value).not.toBe(url);
    const page = await admin.request(`${stack.consoleUrl}/apps/shop`);
    expect(page.body).toContain(`<strong>v${after.releaseVersion}</strong> · Rotate credentials of ${addon} (KV)`);
    await eventually('worker', settled);

    // Rolling back to the first release brings back no revoked credentials: the add-on's var
    // stays as it is, and the release says so.
    const rolled = await post(admin, '/apps/shop/rollback', { _csrf: csrf, version: '1' });
    expect(rolled).toMatchObject({ status: 303, location: `${stack.consoleUrl}/apps/shop?done=rollback` });
    const back = await snapshot('shop');
    expect(back.releaseVersion).toBe(after.releaseVersion + 1);
    expect(back.configVars).toEqual(after.configVars.filter((v) => v.owner !== 'user'));
    expect(back.attachments).toEqual(after.attachments);
    const shown = await admin.request(`${stack.consoleUrl}/apps/shop?done=rollback`);
    expect(shown.body).toContain('add-on vars stay as they are');
    expect(shown.body).toContain(
      '<li class="diff-kept"><span class="visually-hidden">kept: </span><span aria-hidden="true">=</span> <code>KV_URL</code> (attachment KV) left as it is</li>',
    );
  });

  it('changes the plan, and refuses a plan the service does not have', async () => {
    const before = await snapshot('shop');
    const empty = await post(admin, `/addons/${addon}/plan`, { _csrf: csrf, app: 'shop', plan: '' });
    expect(empty.status).toBe(400);
    expect(empty.body).toContain('Choose the plan to change to.');
    const unknown = await post(admin, `/addons/${addon}/plan`, { _csrf: csrf, app: 'shop', plan: 'nope' });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toContain('plan &quot;nope&quot; of service &quot;console-kv&quot; not found');
    expect(await snapshot('shop')).toEqual(before);
    const changed = await post(admin, `/addons/${addon}/plan`, { _csrf: csrf, app: 'shop', plan: 'pro' });
    expect(changed).toMatchObject({ status: 303, location: `${stack.consoleUrl}/apps/shop?done=plan` });
    await eventually('shop', (s) => s.addons[0]?.planSlug === 'pro' && settled(s));
    const page = await admin.request(`${stack.consoleUrl}/apps/shop`);
    expect(page.body).toContain(`<td>${addon}</td><td>console-kv:pro</td>`);
    // Now the other way is offered.
    expect(page.body).toContain('<option value="hobby">hobby (free)</option>');
  });

  it('shows each organization its side of a shared add-on, and lets the borrower detach it', async () => {
    const db = stack.database.db;
    const rival = await db
      .insertInto('organizations')
      .values({ slug: 'rival', name: 'Rival' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const rita = await upsertUser(db, {
      issuer: 'console-tests',
      subject: 'rita',
      email: 'rita@example.com',
      name: 'Rita',
    });
    await db.insertInto('memberships').values({ user_id: rita.id, organization_id: rival.id, role: 'admin' }).execute();
    const { sessionId } = await createSession(db, stack.secretBox, { userId: rita.id, who: 'rita', ttlSeconds: 3600 });
    const borrower = new TestClient();
    borrower.cookies.set('annex_session', sessionId);
    const ritaCsrf = inputValue((await borrower.request(`${stack.consoleUrl}/apps`)).body, '_csrf');
    expect((await post(borrower, '/apps', { _csrf: ritaCsrf, name: 'borrower' })).status).toBe(303);

    const shared = await gql<{ shareAddon: { __typename: string } }>(
      'mutation($input: ShareAddonInput!) { shareAddon(input: $input) { __typename } }',
      { input: { addon, organization: 'rival' } },
    );
    expect(shared.shareAddon.__typename).toBe('ShareAddonSuccess');
    const rivalToken = (await createApiToken(db, { kind: 'org', name: 'rival ci', organizationId: rival.id })).token;
    const attach = await fetch(`${stack.catalogUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${rivalToken}` },
      body: JSON.stringify({
        query: 'mutation($input: AttachAddonInput!) { attachAddon(input: $input) { __typename } }',
        variables: { input: { app: 'borrower', addon } },
      }),
    });
    expect(((await attach.json()) as any).data.attachAddon.__typename).toBe('AttachAddonSuccess');
    let theirs = await borrower.request(`${stack.consoleUrl}/apps/borrower`);
    for (let i = 0; i < 100 && !theirs.body.includes('state-attached'); i++) {
      await sleep(100);
      theirs = await borrower.request(`${stack.consoleUrl}/apps/borrower`);
    }

    // The borrower: the add-on, its plan and who lends it; no dashboard (its owner's), and not shop.
    expect(theirs.status).toBe(200);
    expect(theirs.body).toContain(`<td>${addon}<br><span class="meta">shared by demo</span></td><td>console-kv:`);
    expect(theirs.body).toContain('state-attached');
    expect(theirs.body).toContain('action="/apps/borrower/attachments/KV/detach"');
    expect(theirs.body).not.toContain('Open dashboard');
    expect(theirs.body).not.toContain('shop');
    // The owner: an app of rival attaches it; which one is rival's business.
    const mine = await admin.request(`${stack.consoleUrl}/apps/shop`);
    expect(mine.status).toBe(200);
    expect(mine.body).toContain(`<td>${addon}<br><span class="meta">also attached by an app of rival</span></td>`);
    expect(mine.body).not.toContain('borrower');

    const detached = await post(borrower, '/apps/borrower/attachments/KV/detach', { _csrf: ritaCsrf, app: 'borrower' });
    expect(detached).toMatchObject({ status: 303, location: `${stack.consoleUrl}/apps/borrower?done=detached` });
    let gone = await borrower.request(`${stack.consoleUrl}/apps/borrower`);
    for (let i = 0; i < 100 && !gone.body.includes('No add-on.'); i++) {
      await sleep(100);
      gone = await borrower.request(`${stack.consoleUrl}/apps/borrower`);
    }
    expect(gone.body).toContain('No add-on.');
    const unshared = await gql<{ unshareAddon: { __typename: string } }>(
      'mutation($input: ShareAddonInput!) { unshareAddon(input: $input) { __typename } }',
      { input: { addon, organization: 'rival' } },
    );
    expect(unshared.unshareAddon.__typename).toBe('UnshareAddonSuccess');
    expect((await admin.request(`${stack.consoleUrl}/apps/shop`)).body).not.toContain('also attached by');
  });

  it('detaches an attachment: it leaves the app with its vars, and the owner must keep one', async () => {
    // The app that owns the add-on keeps an attachment to it: its page offers no Detach, and a
    // hand-made request is refused with the reason.
    const shopBefore = await snapshot('shop');
    const owner = await post(admin, '/apps/shop/attachments/KV/detach', { _csrf: csrf, app: 'shop' });
    expect(owner.status).toBe(409);
    expect(owner.body).toContain('which must keep an attachment to it');
    expect(await snapshot('shop')).toEqual(shopBefore);
    const unknown = await post(admin, '/apps/worker/attachments/NOPE/detach', { _csrf: csrf });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toContain('attachment &quot;NOPE&quot; of app &quot;worker&quot; not found');

    const before = await snapshot('worker');
    expect(before.configVars.map((v) => v.name)).toContain('KV_URL');
    const detached = await post(admin, '/apps/worker/attachments/KV/detach', { _csrf: csrf, app: 'worker' });
    expect(detached).toMatchObject({ status: 303, location: `${stack.consoleUrl}/apps/worker?done=detached` });
    const after = await eventually('worker', (s) => s.attachments.length === 0);
    expect(after.configVars).toEqual([]);
    expect(after.releaseVersion).toBeGreaterThan(before.releaseVersion);
    const page = await admin.request(`${stack.consoleUrl}/apps/worker`);
    expect(page.body).toContain('No add-on.');
    expect(page.body).not.toContain('KV_URL</code></td>');
    // The owner still has it.
    expect((await snapshot('shop')).attachments).toHaveLength(1);
  });

  it('destroys an add-on only when its name is typed', async () => {
    const before = await snapshot('shop');
    for (const confirm of [undefined, '', 'console-kv', `${addon}x`]) {
      const form: Record<string, string> = { _csrf: csrf, app: 'shop' };
      if (confirm !== undefined) form.confirm = confirm;
      const refused = await post(admin, `/addons/${addon}/destroy`, form);
      expect(refused.status, String(confirm)).toBe(400);
      expect(refused.body).toContain(`To destroy ${addon}, type its name in the confirmation box`);
      expect(refused.body).toContain('nothing was destroyed');
    }
    expect(await snapshot('shop')).toEqual(before);

    const destroyed = await post(admin, `/addons/${addon}/destroy`, { _csrf: csrf, app: 'shop', confirm: addon });
    expect(destroyed).toMatchObject({ status: 303, location: `${stack.consoleUrl}/apps/shop?done=destroyed` });
    const after = await eventually('shop', (s) => s.addons.length === 0 && s.attachments.length === 0);
    expect(after.configVars.map((v) => v.name)).not.toContain('KV_URL');
    const page = await admin.request(`${stack.consoleUrl}/apps/shop?done=destroyed`);
    expect(page.body).toContain('Destroying: the add-on is detached from every app, then deprovisioned.');
    expect(page.body).not.toContain(`action="/addons/${addon}/destroy"`);
    // Gone: another destroy is a 404 naming it, not a 500.
    const again = await post(admin, `/addons/${addon}/destroy`, { _csrf: csrf, app: 'shop', confirm: addon });
    expect(again.status).toBe(404);
  });

  it('answers an unknown app with a 404 page that still says what was refused', async () => {
    const res = await post(admin, `/addons/no-such-addon/rotate`, { _csrf: csrf, app: 'no-such-app' });
    expect(res.status).toBe(404);
    expect(res.body).toContain('<h1>Refused</h1><p role="alert">add-on &quot;no-such-addon&quot; not found</p>');
  });
});
