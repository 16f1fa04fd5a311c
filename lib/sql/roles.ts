// The least-privilege role the relay can connect as (see functions/privileges.sql). Roles are
// cluster-wide and need CREATEROLE, so migrations never create them: `realtime init` does, when the
// user of DATABASE_URL may, and otherwise says what a DBA can run. Without the role the relay
// connects as the schema owner, as before (the superuser-free path).
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import pg from "pg";
import { quoteIdent } from "./databases.js";

export interface RelayRoleOptions {
  /** The NOLOGIN group role that holds the relay's privileges. */
  role: string;
  /** A login role to create or refresh as a member of `role` (optional). */
  login?: string;
  password?: string;
  /** Set on the roles with ALTER ROLE ... SET (ms). */
  statementTimeoutMs: number;
  idleTxTimeoutMs: number;
}

export interface RelayRoleResult {
  role: string;
  /** The role exists now (created, or created earlier by init or a DBA). */
  exists: boolean;
  created: boolean;
  /** EXECUTE, SELECT and no writes were (re)applied to it. */
  privileges: boolean;
  /** ALTER ROLE ... SET statement_timeout / idle_in_transaction_session_timeout were applied. */
  timeouts: boolean;
  login: { name: string; exists: boolean; created: boolean } | null;
  /** Why something could not be done; empty when everything was. */
  notes: string[];
}

function checkName(name: string, what: string): void {
  // Identifiers are quoted anyway; this only keeps surprises (and pg_ roles) out.
  if (!/^[a-z_][a-z0-9_$]{0,62}$/.test(name) || name.startsWith("pg_")) {
    throw new Error(`${what} "${name}" must be a lowercase PostgreSQL identifier (a-z, 0-9, _), not starting with pg_`);
  }
}

async function roleExists(client: pg.Client, name: string): Promise<boolean> {
  const { rowCount } = await client.query("select 1 from pg_roles where rolname = $1", [name]);
  return rowCount === 1;
}

/** Runs a CREATE ROLE; a concurrent init that created it first is not an error. */
async function createRole(client: pg.Client, sql: string): Promise<boolean> {
  try {
    await client.query(sql);
    return true;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "42710" || code === "23505") return false; // duplicate_object / unique_violation
    throw err;
  }
}

/**
 * Role DDL writes shared catalogs: two inits at once (several databases of one cluster) can meet
 * "tuple concurrently updated" or a duplicate key. Both are retried.
 */
async function ddl(client: pg.Client, sql: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await client.query(sql);
      return;
    } catch (err) {
      const e = err as { code?: string; message?: string };
      const racing = e.code === "23505" || (e.code === "XX000" && /concurrently/.test(e.message ?? ""));
      if (!racing || attempt >= 10) throw err;
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 80));
    }
  }
}

async function setTimeouts(client: pg.Client, name: string, o: RelayRoleOptions): Promise<void> {
  // Role settings apply to sessions that log in as that role (not to members of a group role):
  // they are set on both, and the relay's pool sets them itself as well (lib/db.ts).
  const wanted = [
    `statement_timeout=${Math.trunc(o.statementTimeoutMs)}`,
    `idle_in_transaction_session_timeout=${Math.trunc(o.idleTxTimeoutMs)}`,
  ];
  const { rows } = await client.query<{ setconfig: string[] | null }>(
    "select s.setconfig from pg_db_role_setting s join pg_roles r on r.oid = s.setrole where r.rolname = $1 and s.setdatabase = 0",
    [name],
  );
  const current = rows[0]?.setconfig ?? [];
  for (const setting of wanted) {
    if (current.includes(setting)) continue;
    const [key, value] = setting.split("=");
    await ddl(client, `alter role ${quoteIdent(name)} set ${key} = ${value}`);
  }
}

/**
 * Creates (when permitted) and refreshes the relay role, and the login role when asked. Call after
 * migrating, as the schema owner.
 */
export async function setupRelayRole(connectionString: string, o: RelayRoleOptions): Promise<RelayRoleResult> {
  checkName(o.role, "relay role");
  if (o.login !== undefined) checkName(o.login, "relay login role");
  const result: RelayRoleResult = { role: o.role, exists: false, created: false, privileges: false, timeouts: false, login: null, notes: [] };
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: 5000, application_name: "realtime-cli" });
  client.on("error", () => {});
  await client.connect();
  try {
    const { rows } = await client.query<{ me: string; may: boolean }>(
      "select current_user as me, rolsuper or rolcreaterole as may from pg_roles where rolname = current_user",
    );
    const { me, may } = rows[0];
    if (o.login === me) throw new Error(`the relay login role must not be the schema owner (${me}) that runs init`);

    result.exists = await roleExists(client, o.role);
    if (!result.exists && may) {
      result.created = await createRole(client, `create role ${quoteIdent(o.role)} nologin`);
      result.exists = true;
    }
    if (!result.exists) {
      result.notes.push(
        `cannot create role ${o.role}: ${me} lacks CREATEROLE. A DBA can run "create role ${o.role} nologin", then realtime init again; until then the relay connects as ${me}`,
      );
      if (o.login !== undefined) result.notes.push(`cannot create the relay login role ${o.login} without ${o.role}`);
      return result;
    }

    const applied = await client.query<{ v: boolean }>("select realtime_apply_privileges($1) as v", [o.role]);
    result.privileges = applied.rows[0].v === true;
    if (may) {
      await setTimeouts(client, o.role, o);
      result.timeouts = true;
    } else {
      result.notes.push(`cannot set the timeouts of role ${o.role}: ${me} lacks CREATEROLE (the relay's pool sets them anyway)`);
    }

    if (o.login !== undefined) {
      const login = { name: o.login, exists: await roleExists(client, o.login), created: false };
      result.login = login;
      if (!may) {
        result.notes.push(`cannot create or change the relay login role ${o.login}: ${me} lacks CREATEROLE`);
        return result;
      }
      // Sent as a SCRAM verifier, never as the password itself: DDL may be written to the server log.
      const password = o.password === undefined ? "" : ` password ${client.escapeLiteral(scramVerifier(o.password))}`;
      if (!login.exists) {
        login.created = await createRole(client, `create role ${quoteIdent(o.login)} login${password}`);
        login.exists = true;
      }
      const { rows: attrs } = await client.query<{ rolsuper: boolean }>("select rolsuper from pg_roles where rolname = $1", [o.login]);
      if (attrs[0]?.rolsuper) throw new Error(`the relay login role ${o.login} is a superuser: a least-privilege relay needs an ordinary role`);
      if (!login.created) await ddl(client, `alter role ${quoteIdent(o.login)} login${password}`);
      const { rowCount: member } = await client.query("select 1 where pg_has_role($1, $2, 'usage')", [o.login, o.role]);
      if (member !== 1) await ddl(client, `grant ${quoteIdent(o.role)} to ${quoteIdent(o.login)}`);
      await setTimeouts(client, o.login, o);
    }
    return result;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for a password (RFC 5802/7677, as libpq's
 * PQencryptPasswordConn builds it). PostgreSQL keeps a password given in this form as it is.
 */
export function scramVerifier(password: string, iterations = 4096, salt = randomBytes(16)): string {
  // PostgreSQL applies SASLprep to the password; NFKC is its main step for ordinary input.
  const salted = pbkdf2Sync(Buffer.from(password.normalize("NFKC"), "utf8"), salt, iterations, 32, "sha256");
  const hmac = (key: Buffer, text: string) => createHmac("sha256", key).update(text).digest();
  const storedKey = createHash("sha256").update(hmac(salted, "Client Key")).digest();
  const serverKey = hmac(salted, "Server Key");
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}
