import { UsageError } from "../core/errors.ts";
import { dirTransport } from "./dir.ts";
import { dockerTransport } from "./docker.ts";
import { dockerArchiveTransport } from "./docker-archive.ts";
import { memoryTransport } from "./memory.ts";
import { ociTransport } from "./oci.ts";
import { ociArchiveTransport } from "./oci-archive.ts";
import { staticTransport } from "./static.ts";
import type { ImageRef, Transport } from "./types.ts";

/** Every transport, by the prefix it answers to. */
export const transports: readonly Transport[] = [dockerTransport, ociTransport, ociArchiveTransport, dirTransport, dockerArchiveTransport, staticTransport, memoryTransport];

const byName = new Map(transports.map((t) => [t.name, t]));

/** Parses skopeo's `transport:rest` syntax (`docker://…` included) into a reference. */
export function parseImageRef(text: string): ImageRef {
  const colon = text.indexOf(":");
  const name = colon === -1 ? "" : text.slice(0, colon);
  const transport = byName.get(name);
  if (!transport) {
    const known = transports.map((t) => (t.name === "docker" ? "docker://" : `${t.name}:`)).join(", ");
    throw new UsageError(
      colon === -1
        ? `"${text}" has no transport prefix: expected one of ${known} (for a registry image, docker://${text})`
        : `unknown transport "${name}" in "${text}": expected one of ${known}`,
    );
  }
  return transport.parse(text.slice(colon + 1));
}
