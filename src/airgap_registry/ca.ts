/** Reads the CA of a TLS air-gap registry (`airgap.registry.caFile`): the one reader, with one error. */
import type { Config } from "../config/schema.ts";
import { errorMessage, UserError } from "../errors.ts";

/** The CA PEM text, or "" for a plain-HTTP registry or one trusted through the system roots. */
export async function readRegistryCa(config: Config): Promise<string> {
  const { insecure, caFile } = config.airgap.registry;
  if (insecure || !caFile) return "";
  try {
    return await Deno.readTextFile(caFile);
  } catch (err) {
    throw new UserError(`Cannot read registry CA "${caFile}": ${errorMessage(err)}`);
  }
}
