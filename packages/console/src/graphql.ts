import { print } from '@0no-co/graphql.web';
import type { Document, ResultOf, VariablesOf } from '@annex/contracts/graphql';
import type { Response } from 'express';
import { type CatalogClient, type CatalogResult, errorAt, type FieldError, UpstreamError } from './catalog-client.js';
import { providerTokenOf, tokenOf } from './middleware/session.js';
import { partialFailure } from './views/layout.js';

// How the routes call the catalog: with the session's token, a request's partial errors
// collected for its page, and the result unions of mutations read as success or `Refusal`.

/** Why a form was refused: a message naming what is wrong, and the status of the page that says it. */
export class Refusal extends Error {
  constructor(
    message: string,
    readonly status: number,
    /** The refusal's type in the catalog's schema (`PaymentRequired`…), when it came from there. */
    readonly kind?: string,
  ) {
    super(message);
    this.name = 'Refusal';
  }
}

/** The status of each refusal in the apps mutations' result unions; anything else is 502. */
const REFUSAL_STATUS: Record<string, number> = {
  InvalidInput: 400,
  PlanNotOffered: 400,
  NotAuthorized: 403,
  Forbidden: 403,
  NotFound: 404,
  Conflict: 409,
  ConfigVarCollision: 409,
  NameTaken: 409,
  // The provider has no dashboard to open.
  DashboardNotOffered: 422,
  // What is wrong is the organization's billing account, not the form.
  PaymentRequired: 409,
  ProviderFailed: 502,
  BrokerUnavailable: 502,
};

/**
 * The failed fields of this request's answers so far. A partial answer (data with errors)
 * still renders: the page shows what arrived, and the layout says what failed.
 */
export function partialErrorsOf(res: Response): FieldError[] {
  res.locals.partialErrors ??= [];
  return res.locals.partialErrors as FieldError[];
}

/** The error for a null `field`: its failure when the catalog reported one, else `notFound` (404). */
export function missing(errors: readonly FieldError[], field: string, notFound: string): UpstreamError {
  // Only a null the catalog gave no error about is "not found".
  const failure = errorAt(errors, field);
  return failure ? new UpstreamError(partialFailure([failure.message]), 502) : new UpstreamError(notFound, 404);
}

/** The `${Field}Success` member of the result union at `field`. */
type SuccessOf<D extends Document, F extends keyof ResultOf<D> & string> = Extract<
  NonNullable<ResultOf<D>[F]>,
  { __typename: `${Capitalize<F>}Success` }
>;

export interface CatalogCalls {
  /** A query of documents.ts with the session's token; its partial errors go to the page. */
  ask<D extends Document>(
    res: Response,
    document: D,
    ...variables: VariablesOf<D> extends Record<string, never> ? [] : [VariablesOf<D>]
  ): Promise<CatalogResult<ResultOf<D>>>;
  /**
   * A query of documents.ts with the session's provider token (the Provider section, after
   * `requireProviderMember`); its partial errors go to the page.
   */
  askAsProvider<D extends Document>(
    res: Response,
    document: D,
    ...variables: VariablesOf<D> extends Record<string, never> ? [] : [VariablesOf<D>]
  ): Promise<CatalogResult<ResultOf<D>>>;
  /**
   * Runs a mutation of documents.ts whose field `field` is a result union and answers its
   * `${Field}Success` member; any other member is thrown as a `Refusal`.
   */
  mutate<D extends Document, F extends keyof ResultOf<D> & string>(
    res: Response,
    document: D,
    field: F,
    input: VariablesOf<D> extends { input: infer I } ? I : never,
  ): Promise<SuccessOf<D, F>>;
}

export function catalogCalls(catalog: CatalogClient): CatalogCalls {
  return {
    async ask<D extends Document>(
      res: Response,
      document: D,
      ...variables: VariablesOf<D> extends Record<string, never> ? [] : [VariablesOf<D>]
    ) {
      const result = await catalog.query<ResultOf<D>>(tokenOf(res), print(document), variables[0]);
      partialErrorsOf(res).push(...result.errors);
      return result;
    },
    async askAsProvider<D extends Document>(
      res: Response,
      document: D,
      ...variables: VariablesOf<D> extends Record<string, never> ? [] : [VariablesOf<D>]
    ) {
      const result = await catalog.query<ResultOf<D>>(providerTokenOf(res), print(document), variables[0]);
      partialErrorsOf(res).push(...result.errors);
      return result;
    },
    async mutate<D extends Document, F extends keyof ResultOf<D> & string>(
      res: Response,
      document: D,
      field: F,
      input: VariablesOf<D> extends { input: infer I } ? I : never,
    ) {
      const { data, errors } = await catalog.query<ResultOf<D>>(tokenOf(res), print(document), { input });
      partialErrorsOf(res).push(...errors);
      const result = data[field] as { __typename: string; message?: string } | null | undefined;
      if (!result) throw new UpstreamError(errorAt(errors, field)?.message ?? 'the catalog gave no answer', 502);
      if (result.__typename !== `${field.charAt(0).toUpperCase()}${field.slice(1)}Success`) {
        throw new Refusal(
          result.message ?? result.__typename,
          REFUSAL_STATUS[result.__typename] ?? 502,
          result.__typename,
        );
      }
      return result as SuccessOf<D, F>;
    },
  };
}
