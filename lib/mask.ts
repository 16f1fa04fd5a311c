// Secrets never reach the terminal: passwords in URLs and JWT secrets are masked.

/** The URL with its password replaced by ***. Unparseable input is returned as "(invalid URL)". */
export function maskUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = "***";
    return url.toString();
  } catch {
    return "(invalid URL)";
  }
}

/** Describes a secret without revealing it. */
export function maskSecret(secret: string | undefined): string {
  if (!secret) return "not set";
  return `set (${secret.length} characters)`;
}
