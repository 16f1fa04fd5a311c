// The migrations a database has applied, as graphile-migrate records them.
import type pg from "pg";

export interface AppliedMigration {
  filename: string;
  hash: string;
}

/** Something that runs a query: a connected pg client, or a pool. */
export interface Queryable {
  query<R extends pg.QueryResultRow>(text: string): Promise<pg.QueryResult<R>>;
}

/** graphile_migrate.migrations, oldest first (throws when the schema or table is missing). */
export async function readAppliedMigrations(client: Queryable): Promise<AppliedMigration[]> {
  const { rows } = await client.query<AppliedMigration>("select filename, hash from graphile_migrate.migrations order by date, filename");
  return rows;
}
