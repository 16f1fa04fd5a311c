import { Args, Flags } from "@oclif/core";
import { RealtimeCommand } from "../lib/base.js";
import { CliError } from "../lib/errors.js";
import { parseDuration } from "../lib/duration.js";

export default class Token extends RealtimeCommand {
  static summary = "Mint a signed JWT for a user (development and scripts).";
  static description =
    "Signs a token with REALTIME_JWT_SECRET (sub = USER, exp = now + --ttl, roles as given; aud/iss when configured). " +
    "With no secret and no DATABASE_URL (embedded mode) it uses the development secret the server uses, kept in the data directory. " +
    "Prints only the token, so TOKEN=$(npx realtime token alice) works. Tokens for a public-key (RS/ES) setup come from your auth provider.";
  static examples = [
    "<%= config.bin %> <%= command.id %> alice",
    "<%= config.bin %> <%= command.id %> bob --ttl 15m --role admin --role editor",
    "TOKEN=$(<%= config.bin %> <%= command.id %> alice)",
  ];
  static enableJsonFlag = true;
  static args = {
    user: Args.string({ description: "user id (the sub claim)", required: true }),
  };
  static flags = {
    ttl: Flags.string({ description: "lifetime (30s, 15m, 1h, 7d)", default: "1h" }),
    role: Flags.string({ description: "a role claim (repeatable); broadcast rooms may allow senders by role", multiple: true }),
  };

  async run(): Promise<{ token: string; userId: string; expiresAt: string }> {
    const { args, flags } = await this.parse(Token);
    const ttlMs = parseDuration(flags.ttl, "--ttl");
    const config = this.settings;
    if (config.jwtPublicKey || !config.jwtAlgorithms.some((a) => a.startsWith("HS"))) {
      throw new CliError(
        "the server verifies tokens with a public key (REALTIME_JWT_PUBLIC_KEY): mint them with the matching private key in your auth provider",
      );
    }
    let secret = config.jwtSecret;
    if (!secret) {
      if (config.databaseUrl) {
        throw new CliError("REALTIME_JWT_SECRET is not set: set it (at least 16 characters) to mint tokens the server accepts");
      }
      const { loadOrCreateDevSecret } = await import("../../lib/embedded.js");
      secret = loadOrCreateDevSecret(config.dataDir);
    }
    const algorithm = (config.jwtAlgorithms.find((a) => a.startsWith("HS")) ?? "HS256") as "HS256" | "HS384" | "HS512";
    const { mintToken } = await import("../../lib/token.js");
    const { token, expiresAt } = mintToken({
      userId: args.user,
      secret,
      algorithm,
      ttlMs,
      roles: flags.role,
      audience: config.jwtAudience,
      issuer: config.jwtIssuer,
    });
    this.log(token);
    return { token, userId: args.user, expiresAt };
  }
}
