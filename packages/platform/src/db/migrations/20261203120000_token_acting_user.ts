import type { Kysely } from 'kysely';
import { executeStatements } from '../migrate.js';

// An API token may act for a person: the console's session tokens do. The broker then names
// that person, not the token, when the token asks for a dashboard sign-on (docs/provider-protocol.md
// §2); nobody holding a token can name someone else. The tokens of sessions open now learn
// their person from the session. A person removed takes their tokens along.
export async function up(db: Kysely<any>): Promise<void> {
  await executeStatements(
    db,
    `
    alter table api_tokens add column user_id uuid references users (id) on delete cascade;
    update api_tokens set user_id = s.user_id from console_sessions s where s.api_token_id = api_tokens.id;
    `,
  );
}
