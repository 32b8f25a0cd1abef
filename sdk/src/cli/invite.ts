import { type CatalogTarget, catalogRequest } from './catalog-request.js';
import { CliError, EXIT_CODES } from './exit-codes.js';
import type { CliIo } from './io.js';

// `annex-provider invite`, `uninvite` and `invitations`: the organizations that see and may use
// the provider's ALPHA services (docs/provider-portal.md, "Listing lifecycle").

const CHANGE_FIELDS =
  '__typename ... on Error { message } ... on AlphaInvitationChange { changed invitation { organization organizationName invitedBy createdAt } service { slug stage } }';

/** The mutations, exactly as the catalog serves them. */
export const INVITE_MUTATION = `mutation Invite($input: AlphaInvitationInput!) { inviteToAlpha(input: $input) { ${CHANGE_FIELDS} } }`;
export const UNINVITE_MUTATION = `mutation Uninvite($input: AlphaInvitationInput!) { revokeAlphaInvitation(input: $input) { ${CHANGE_FIELDS} } }`;

const INVITATION_FIELDS =
  'slug stage alphaInvitations { __typename ... on Error { message } ... on ServiceAlphaInvitationsSuccess { data { organization organizationName invitedBy createdAt } } }';
const SERVICE_INVITATIONS = `query ServiceInvitations($slug: String!) { service(slug: $slug) { ${INVITATION_FIELDS} } }`;
const ALL_INVITATIONS = `query Invitations($after: String) { services(first: 100, after: $after) { pageInfo { hasNextPage endCursor } edges { node { ${INVITATION_FIELDS} } } } }`;

interface Invitation {
  organization: string;
  organizationName: string;
  invitedBy: string;
  createdAt: string;
}

interface Change {
  __typename?: string;
  message?: string;
  changed?: boolean;
  invitation?: Invitation;
  service?: { slug: string; stage: string };
}

interface ServiceInvitations {
  slug: string;
  stage: string;
  alphaInvitations: { __typename: string; message?: string; data?: Invitation[] };
}

export interface InviteOptions extends CatalogTarget {
  service: string | undefined;
  json: boolean;
}

function requireService(service: string | undefined, command: string): string {
  if (!service) throw new CliError(`${command} needs --service SERVICE (the service's slug)`, EXIT_CODES.usage);
  return service;
}

/** The catalog's typed refusal (NotFound, NotAuthorized, Forbidden…) as the CLI's: exit 1, its message. */
function refusal(result: Change | undefined, what: string): CliError {
  const name = result?.__typename ?? 'no answer';
  return new CliError(`${what} refused: ${result?.message ?? name} (${name})`, EXIT_CODES.refused);
}

const stageNote = (service: { slug: string; stage: string }) =>
  service.stage === 'ALPHA' ? '' : ` (note: ${service.slug} is ${service.stage}; invitations matter while it is ALPHA)`;

/** `annex-provider invite ORG --service SERVICE [--json]`: the organization sees and may use the ALPHA service. */
export async function inviteCommand(io: CliIo, organization: string, options: InviteOptions): Promise<number> {
  const service = requireService(options.service, 'invite');
  const data = await catalogRequest<{ inviteToAlpha?: Change }>(options, INVITE_MUTATION, {
    input: { service, organization },
  });
  const result = data.inviteToAlpha;
  if (result?.__typename !== 'AlphaInvitationChange' || !result.service) {
    throw refusal(result, `inviting ${organization} to ${service}`);
  }
  if (options.json) {
    io.stdout(JSON.stringify({ service: result.service, changed: result.changed, invitation: result.invitation }));
  } else {
    io.stdout(
      `${result.changed ? 'invited' : 'already invited:'} ${organization} to ${result.service.slug}${stageNote(result.service)}`,
    );
  }
  return EXIT_CODES.ok;
}

/** `annex-provider uninvite ORG --service SERVICE [--json]`: withdraws the invitation (existing add-ons keep working). */
export async function uninviteCommand(io: CliIo, organization: string, options: InviteOptions): Promise<number> {
  const service = requireService(options.service, 'uninvite');
  const data = await catalogRequest<{ revokeAlphaInvitation?: Change }>(options, UNINVITE_MUTATION, {
    input: { service, organization },
  });
  const result = data.revokeAlphaInvitation;
  if (result?.__typename !== 'AlphaInvitationChange' || !result.service) {
    throw refusal(result, `withdrawing the invitation of ${organization} to ${service}`);
  }
  if (options.json) {
    io.stdout(JSON.stringify({ service: result.service, changed: result.changed, organization }));
  } else {
    io.stdout(
      result.changed
        ? `withdrew the invitation of ${organization} to ${result.service.slug}; its existing add-ons keep working`
        : `${organization} was not invited to ${result.service.slug}; nothing changed`,
    );
  }
  return EXIT_CODES.ok;
}

/**
 * `annex-provider invitations [--service SERVICE] [--json]`: who is invited to the service, or
 * to every service of the token's provider.
 */
export async function invitationsCommand(io: CliIo, options: InviteOptions): Promise<number> {
  let services: ServiceInvitations[];
  if (options.service) {
    const data = await catalogRequest<{ service: ServiceInvitations | null }>(options, SERVICE_INVITATIONS, {
      slug: options.service,
    });
    if (!data.service) throw new CliError(`no service "${options.service}" this token can see`, EXIT_CODES.refused);
    if (data.service.alphaInvitations.__typename !== 'ServiceAlphaInvitationsSuccess') {
      throw new CliError(
        `listing the invitations of ${options.service} refused: ${data.service.alphaInvitations.message} (${data.service.alphaInvitations.__typename})`,
        EXIT_CODES.refused,
      );
    }
    services = [data.service];
  } else {
    // Every service the token sees; its provider's own are those whose invitations it may read.
    services = [];
    let after: string | null = null;
    for (;;) {
      const data: {
        services: {
          pageInfo: { hasNextPage: boolean; endCursor: string | null };
          edges: { node: ServiceInvitations }[];
        };
      } = await catalogRequest(options, ALL_INVITATIONS, { after });
      services.push(
        ...data.services.edges
          .map((edge) => edge.node)
          .filter((node) => node.alphaInvitations.__typename === 'ServiceAlphaInvitationsSuccess'),
      );
      if (!data.services.pageInfo.hasNextPage) break;
      after = data.services.pageInfo.endCursor;
    }
  }
  if (options.json) {
    io.stdout(
      JSON.stringify(
        services.map((s) => ({ service: s.slug, stage: s.stage, invitations: s.alphaInvitations.data ?? [] })),
      ),
    );
    return EXIT_CODES.ok;
  }
  if (services.length === 0) {
    io.stdout('no services of this token’s provider');
    return EXIT_CODES.ok;
  }
  for (const service of services) {
    const invitations = service.alphaInvitations.data ?? [];
    io.stdout(`${service.slug} (${service.stage}): ${invitations.length === 0 ? 'no organization invited' : ''}`);
    for (const invitation of invitations) {
      io.stdout(`  ${invitation.organization}  ${invitation.organizationName}  since ${invitation.createdAt}`);
    }
  }
  return EXIT_CODES.ok;
}
