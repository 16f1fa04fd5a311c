// Where the tests find PostgreSQL and Redis. Defaults: the services this machine runs.
export const TEST_ROOT_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/** The URL of database `name` on the same server. */
export function databaseUrl(name: string): string {
  const url = new URL(TEST_ROOT_DATABASE_URL);
  url.pathname = "/" + name;
  return url.toString();
}

declare module "vitest" {
  export interface ProvidedContext {
    templateDatabase: string;
  }
}
