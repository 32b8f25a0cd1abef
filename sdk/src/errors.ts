/**
 * The OSB error body: `{ error?, description, instance_usable?, update_repeatable? }`.
 *
 * @example
 * const body: OsbErrorBody = ProviderError.concurrency().toBody();
 * // { error: 'ConcurrencyError', description: '...' }
 */
export interface OsbErrorBody {
  error?: string;
  description: string;
  instance_usable?: boolean;
  update_repeatable?: boolean;
}

/**
 * A failure a handler throws (or returns) to answer the broker with a precise OSB status
 * and error body. Anything else a handler throws becomes a 500 with a request id.
 *
 * @example
 * provision: async ({ parameters }) => {
 *   if (parameters.region === 'mars') throw ProviderError.badRequest('region "mars" is not served');
 *   return {};
 * }
 */
export class ProviderError extends Error {
  override readonly name = 'ProviderError';
  /** HTTP status sent to the broker. */
  readonly status: number;
  /** OSB error code (`AsyncRequired`, `ConcurrencyError`, ...), when the spec defines one. */
  readonly code: string | undefined;
  /** For failed updates and deprovisions: whether the instance can still be used. */
  readonly instanceUsable: boolean | undefined;
  /** For failed updates: whether repeating the update may succeed. */
  readonly updateRepeatable: boolean | undefined;

  constructor(
    status: number,
    description: string,
    options: { code?: string; instanceUsable?: boolean; updateRepeatable?: boolean } = {},
  ) {
    super(description);
    this.status = status;
    this.code = options.code;
    this.instanceUsable = options.instanceUsable;
    this.updateRepeatable = options.updateRepeatable;
  }

  /** The OSB error body for this failure. */
  toBody(): OsbErrorBody {
    return {
      ...(this.code ? { error: this.code } : {}),
      description: this.message,
      ...(this.instanceUsable !== undefined ? { instance_usable: this.instanceUsable } : {}),
      ...(this.updateRepeatable !== undefined ? { update_repeatable: this.updateRepeatable } : {}),
    };
  }

  /** 400: the request cannot be served as asked (bad parameters, unsupported change). */
  static badRequest(description: string): ProviderError {
    return new ProviderError(400, description);
  }
  /** 404: the instance or binding does not exist. */
  static notFound(description = 'not found'): ProviderError {
    return new ProviderError(404, description);
  }
  /** 409: the resource exists with other attributes. */
  static conflict(description: string): ProviderError {
    return new ProviderError(409, description);
  }
  /** 410: the resource is already gone. */
  static gone(description = 'already gone'): ProviderError {
    return new ProviderError(410, description);
  }
  /** 422 `ConcurrencyError`: another operation on the same resource is in progress. */
  static concurrency(description = 'another operation for this resource is in progress'): ProviderError {
    return new ProviderError(422, description, { code: 'ConcurrencyError' });
  }
  /** 422 `AsyncRequired`: this plan only works asynchronously (`accepts_incomplete=true`). */
  static asyncRequired(description = 'this request requires accepts_incomplete=true'): ProviderError {
    return new ProviderError(422, description, { code: 'AsyncRequired' });
  }
  /** 422 `RequiresApp`: binding needs `bind_resource.app_guid`. */
  static requiresApp(description = 'this binding requires an app (bind_resource.app_guid)'): ProviderError {
    return new ProviderError(422, description, { code: 'RequiresApp' });
  }
  /** 422 `MaintenanceInfoConflict`: the `maintenance_info` does not match the plan's. */
  static maintenanceInfoConflict(description = 'maintenance_info does not match the plan'): ProviderError {
    return new ProviderError(422, description, { code: 'MaintenanceInfoConflict' });
  }
  /** 500: the provider failed; the broker will mitigate orphans. */
  static internal(description: string, options: { instanceUsable?: boolean; updateRepeatable?: boolean } = {}) {
    return new ProviderError(500, description, options);
  }
}

/**
 * Whether a value is a {@link ProviderError} (also across duplicated module copies).
 *
 * @example
 * if (isProviderError(error)) res.status(error.status).json(error.toBody());
 */
export function isProviderError(value: unknown): value is ProviderError {
  return (
    value instanceof ProviderError ||
    (value instanceof Error && value.name === 'ProviderError' && typeof (value as ProviderError).status === 'number')
  );
}
