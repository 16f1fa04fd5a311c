// Creating a database, and quoting a name for DDL that cannot take parameters (CREATE DATABASE,
// CREATE ROLE): used by `realtime init`, the embedded PostgreSQL and the relay-role setup.
import pg from "pg";

/** A PostgreSQL identifier quoted for SQL text: "name" with inner quotes doubled. */
export function quoteIdent(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}

/**
 * Creates the database named in the URL when it does not exist (from the server's `postgres`
 * database, same credentials); returns true when it did. Safe when another process creates it at
 * the same moment.
 */
export async function ensureDatabase(connectionString: string, options: { connectTimeoutMs?: number } = {}): Promise<boolean> {
  const connect = async (url: string) => {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: options.connectTimeoutMs ?? 0 });
    client.on("error", () => {});
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
    return client;
  };
  try {
    const probe = await connect(connectionString);
    await probe.end().catch(() => {});
    return false;
  } catch (err) {
    if ((err as { code?: string }).code !== "3D000") throw err;
  }
  const url = new URL(connectionString);
  const dbName = decodeURIComponent(url.pathname.replace(/^\//, ""));
  url.pathname = "/postgres";
  const root = await connect(url.toString());
  try {
    await root.query(`create database ${quoteIdent(dbName)}`);
  } catch (err) {
    if ((err as { code?: string }).code !== "42P04") throw err; // created meanwhile
  } finally {
    await root.end().catch(() => {});
  }
  return true;
}
