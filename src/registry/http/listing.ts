/** Listing routes: `GET /v2/<name>/tags/list` and `GET /v2/_catalog`, paginated with `n`/`last`. */
import { RegistryError } from "../errors.ts";
import { type HandlerDeps, NAME, paginate, type RegistryApp, repoParam } from "./context.ts";

/** Registers the tag list and catalog routes (the catalog first: `_catalog` is no repository). */
export function registerListing(app: RegistryApp, { storage }: HandlerDeps): void {
  app.get("/v2/_catalog", async (c) => {
    const repositories = paginate(c, await storage.listRepositories(), "/v2/_catalog");
    return c.json({ repositories });
  });

  app.get(`${NAME}/tags/list`, async (c) => {
    const repo = repoParam(c);
    const tags = await storage.listTags(repo);
    if (!tags) throw new RegistryError("NAME_UNKNOWN", `Repository "${repo}" is not known`);
    return c.json({ name: repo, tags: paginate(c, tags, `/v2/${repo}/tags/list`) });
  });
}
