/** Referrers route: `GET /v2/<name>/referrers/<digest>[?artifactType=]`, an OCI image index. */
import { MEDIA_TYPES } from "../manifest.ts";
import { digestValue, type HandlerDeps, NAME, type RegistryApp, repoParam } from "./context.ts";

/** Registers the referrers route. */
export function registerReferrers(app: RegistryApp, { storage }: HandlerDeps): void {
  app.get(`${NAME}/referrers/:digest`, async (c) => {
    const repo = repoParam(c);
    const subject = digestValue(c.req.param("digest"));
    const artifactType = c.req.query("artifactType") || undefined;
    const manifests = await storage.referrers(repo, subject, artifactType);
    const body = JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests });
    const headers: Record<string, string> = { "Content-Type": MEDIA_TYPES.ociIndex };
    if (artifactType) headers["OCI-Filters-Applied"] = "artifactType";
    return new Response(body, { status: 200, headers });
  });
}
