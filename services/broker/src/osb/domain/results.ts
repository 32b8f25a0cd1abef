/** What a domain call answers; the OSB handler turns it into a status and body. */
export type OperationOutcome =
  | { kind: 'created'; body: Record<string, unknown> }
  | { kind: 'ok'; body: Record<string, unknown> }
  | { kind: 'accepted'; operation: string; body?: Record<string, unknown> };
