/** Claims of a compact JWT, decoded without verifying the signature; null when it is not a JWT. */
export function decodeClaims(token: string): Record<string, unknown> | null {
  const parts = token.split(".");
  if (parts.length !== 3 || !parts[1]) return null;
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
    return claims !== null && typeof claims === "object" && !Array.isArray(claims)
      ? (claims as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

/** `sub` of an `authorization: Bearer` token, trusted because the edge verified it before forwarding. */
export function bearerSubject(authorization: string | undefined): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
  if (!match?.[1]) return null;
  const sub = decodeClaims(match[1])?.sub;
  return typeof sub === "string" ? sub : null;
}
