import {
  IdConflictError,
  InvalidInputError,
  ManifestInvalidError,
  NotAuthorizedError,
  NotFoundError,
  OsbBrokerError,
  type PlanInUseEntry,
  PlanInUseError,
  type Problem,
  SlugTakenError,
} from '../../domain/errors.js';
import { builder } from '../builder.js';

// The typed failures mutations return as members of their result unions. Every one
// implements `Error`, so a client can always ask `... on Error { message }`.

export const ErrorInterface = builder.interfaceRef<Error>('Error').implement({
  fields: (t) => ({ message: t.exposeString('message') }),
});

export const ProblemRef = builder.objectRef<Problem>('Problem').implement({
  description: 'One thing wrong with an input: where (a dotted path such as `services.0.plans.1.id`) and why.',
  fields: (t) => ({ path: t.exposeString('path'), message: t.exposeString('message') }),
});

builder.objectType(NotAuthorizedError, {
  name: 'NotAuthorized',
  description: 'The caller may not do this (wrong or missing token).',
  interfaces: [ErrorInterface],
  fields: () => ({}),
});

builder.objectType(ManifestInvalidError, {
  name: 'ManifestInvalid',
  description: 'The manifest is invalid; every problem is listed. Nothing was stored.',
  interfaces: [ErrorInterface],
  fields: (t) => ({ problems: t.field({ type: [ProblemRef], resolve: (e) => [...e.problems] }) }),
});

builder.objectType(InvalidInputError, {
  name: 'InvalidInput',
  description: 'An argument is invalid; every problem is listed. Nothing changed.',
  interfaces: [ErrorInterface],
  fields: (t) => ({ problems: t.field({ type: [ProblemRef], resolve: (e) => [...e.problems] }) }),
});

const PlanInUseEntryRef = builder.objectRef<PlanInUseEntry>('PlanInUseEntry').implement({
  fields: (t) => ({
    serviceId: t.exposeString('serviceId', { description: 'OSB id of the service.' }),
    planId: t.exposeString('planId', { nullable: true, description: 'OSB id of the plan.' }),
    liveInstances: t.exposeInt('liveInstances'),
  }),
});

builder.objectType(PlanInUseError, {
  name: 'PlanInUse',
  description:
    'The manifest removes plans that live instances use. Keep them with `deprecated: true` instead. Nothing was stored.',
  interfaces: [ErrorInterface],
  fields: (t) => ({ plans: t.field({ type: [PlanInUseEntryRef], resolve: (e) => [...e.plans] }) }),
});

builder.objectType(IdConflictError, {
  name: 'IdConflict',
  description:
    'An OSB id is already used by another provider or service; ids never change meaning. Nothing was stored.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    kind: t.string({ description: '`service` or `plan`.', resolve: (e) => e.kind }),
    id: t.string({ description: 'The OSB id.', resolve: (e) => e.id }),
  }),
});

builder.objectType(SlugTakenError, {
  name: 'SlugTaken',
  description: 'The slug belongs to someone else. Nothing was stored.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    kind: t.string({ resolve: (e) => e.kind }),
    slug: t.string({ resolve: (e) => e.slug }),
  }),
});

builder.objectType(NotFoundError, {
  name: 'NotFound',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    kind: t.string({ resolve: (e) => e.kind }),
    key: t.string({ resolve: (e) => e.key }),
  }),
});

builder.objectType(OsbBrokerError, {
  name: 'OsbBrokerUnavailable',
  description: "The OSB broker's catalog could not be read: unreachable, credentials rejected, or not JSON.",
  interfaces: [ErrorInterface],
  fields: (t) => ({
    url: t.string({ resolve: (e) => e.url }),
    status: t.int({ nullable: true, description: 'HTTP status, null when unreachable.', resolve: (e) => e.status }),
  }),
});

/** Failures any catalog publish can end with. */
export const PUBLISH_ERRORS = [
  ManifestInvalidError,
  PlanInUseError,
  NotAuthorizedError,
  IdConflictError,
  SlugTakenError,
] as const;
