/** The registry's error codes: one table of OCI distribution-spec codes, HTTP status and message. */
import { errorMessage } from "../errors.ts";

/** Every error code the registry answers with, with its HTTP status and default message. */
export const ERROR_CODES = {
  BLOB_UNKNOWN: { status: 404, message: "blob unknown to registry" },
  BLOB_UPLOAD_INVALID: { status: 400, message: "blob upload invalid" },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: "blob upload unknown to registry" },
  DIGEST_INVALID: { status: 400, message: "provided digest did not match uploaded content" },
  MANIFEST_BLOB_UNKNOWN: { status: 404, message: "manifest references a blob unknown to registry" },
  MANIFEST_INVALID: { status: 400, message: "manifest invalid" },
  MANIFEST_UNKNOWN: { status: 404, message: "manifest unknown to registry" },
  NAME_INVALID: { status: 400, message: "invalid repository name" },
  NAME_UNKNOWN: { status: 404, message: "repository name not known to registry" },
  SIZE_INVALID: { status: 400, message: "provided length did not match content length" },
  TAG_INVALID: { status: 400, message: "manifest tag did not match URI" },
  UNAUTHORIZED: { status: 401, message: "authentication required" },
  DENIED: { status: 403, message: "requested access to the resource is denied" },
  UNSUPPORTED: { status: 405, message: "the operation is unsupported" },
  PAGINATION_NUMBER_INVALID: { status: 400, message: "invalid number of results requested" },
  RANGE_INVALID: { status: 416, message: "requested range not satisfiable" },
  TOO_MANY_REQUESTS: { status: 429, message: "too many requests" },
  /** Not a bug of the client's: the registry could not do it (a full disk: 507, a bug: 500). */
  UNKNOWN: { status: 500, message: "unknown error" },
} as const;

/** One of the codes in {@link ERROR_CODES}. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** A registry failure with its OCI code; the HTTP layer turns it into the spec's JSON envelope. */
export class RegistryError extends Error {
  override name = "RegistryError";
  /** HTTP status from {@link ERROR_CODES}. */
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly detail?: unknown,
  ) {
    super(message ?? ERROR_CODES[code].message);
    this.status = ERROR_CODES[code].status;
  }
}

/** The spec's error body: `{"errors":[{"code","message","detail"}]}`. */
export function errorBody(err: RegistryError): string {
  return JSON.stringify({
    errors: [{ code: err.code, message: err.message, detail: err.detail ?? null }],
  });
}

/**
 * Reading an incoming body failed: the client sent fewer bytes than it announced, or went away.
 * The HTTP layer answers it as the client's error (400 `SIZE_INVALID`), not as a bug.
 */
export class BodyReadError extends Error {
  override name = "BodyReadError";
  constructor(cause: unknown) {
    super(`The body ended early: ${errorMessage(cause)}`, { cause });
  }
}

/** True for the errors of a full disk or an exhausted quota (`ENOSPC`, `EDQUOT`). */
export function isStorageFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return err instanceof Error && (code === "ENOSPC" || code === "EDQUOT");
}
