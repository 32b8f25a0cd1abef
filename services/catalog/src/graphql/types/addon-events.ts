import { GraphQLError } from 'graphql';
import { Repeater } from 'graphql-yoga';
import { BrokerUnavailableError } from '../../apps/errors.js';
import type { ApiEvent } from '../../broker-client.js';
import { NotFoundError } from '../../domain/errors.js';
import { builder, needsScope } from '../builder.js';
import { asGraphQLError } from './app-errors.js';

// `addonEvents(app)`: the progress of an app's add-ons and attachments, streamed over SSE
// (graphql-yoga's subscriptions). The catalog keeps no state for it: the stream long-polls
// the broker's `GET /v1/apps/:app/events` with the subscriber's token, so it ends when the
// subscriber goes and works the same on any replica. A token revoked meanwhile ends it at
// once (the broker's waiting poll is woken by the revocation, docs/jobs.md), one that
// expires within the broker's 10-second fallback check: the 401 ends the stream with that error.

/** How long one long poll waits at the broker for an event (the broker caps it at 25 s). */
export const EVENTS_WAIT_MS = 20_000;
/** Consecutive failed polls before the stream ends with an error. */
const MAX_POLL_FAILURES = 3;

const AddonEventRef = builder.objectRef<ApiEvent>('AddonEvent').implement({
  description: "Something that happened to an app's add-ons, attachments or config vars.",
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Increasing; resume a stream after it with `after`.' }),
    app: t.exposeString('app', { description: "The app's name." }),
    addon: t.string({
      nullable: true,
      description: "The add-on's name, if it is about one.",
      resolve: (e) => e.addon ?? null,
    }),
    kind: t.exposeString('kind', {
      description:
        'e.g. `addon.provisioning`, `addon.provisioned`, `addon.failed`, `attachment.attached`, `release.created`.',
    }),
    detail: t.field({ type: 'JSON', resolve: (e) => e.detail ?? {} }),
    createdAt: t.field({ type: 'DateTime', resolve: (e) => new Date(e.createdAt) }),
  }),
});

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

builder.subscriptionType({ description: 'Streams over server-sent events (`accept: text/event-stream`).' });

builder.subscriptionField('addonEvents', (t) =>
  t.field({
    ...needsScope('Subscription.addonEvents'),
    type: AddonEventRef,
    description:
      "Events of an app the caller can see, as they happen. An unknown app, or another organization's, is an error.",
    args: {
      app: t.arg.string({ required: true, description: "The app's name or id." }),
      after: t.arg.id({ description: "Only events after this event id (default: the broker's retained events)." }),
    },
    subscribe: async (_root, args, ctx) => {
      // Fail at once, not with a silent stream: a missing or foreign app is a 404 at the broker.
      let app: Awaited<ReturnType<typeof ctx.broker.getApp>>;
      try {
        app = await ctx.broker.getApp(args.app);
      } catch (error) {
        throw asGraphQLError(error);
      }
      if (!app) throw new GraphQLError(`no app "${args.app}"`, { extensions: { code: 'NOT_FOUND' } });
      const appId = app.id;
      return new Repeater<ApiEvent>(async (push, stop) => {
        // Stopping (the client went, or the stream ended) aborts the poll in flight at once.
        const controller = new AbortController();
        void stop.then(() => controller.abort());
        ctx.signal?.addEventListener('abort', () => stop());
        let after = args.after == null ? undefined : String(args.after);
        let failures = 0;
        while (!controller.signal.aborted) {
          try {
            const events = await ctx.broker.events(appId, {
              ...(after !== undefined ? { after } : {}),
              waitMs: EVENTS_WAIT_MS,
              signal: controller.signal,
            });
            failures = 0;
            for (const event of events) {
              after = event.id;
              await push(event);
            }
          } catch (error) {
            if (controller.signal.aborted) break;
            if (error instanceof BrokerUnavailableError && ++failures < MAX_POLL_FAILURES) {
              await sleep(500 * failures, controller.signal);
              continue;
            }
            // Gone (deleted, or the token lost access), refused, or the broker stays away.
            stop(asGraphQLError(error instanceof NotFoundError ? new NotFoundError('app', args.app) : error));
            break;
          }
        }
      });
    },
    resolve: (event) => event,
  }),
);
