import type { Descriptor } from "../core/descriptor.ts";
import type { Digest } from "../core/digest.ts";
import { NotFoundError, UsageError } from "../core/errors.ts";
import type { RawManifest } from "../core/manifest.ts";
import { acceptedManifestTypes } from "../core/media-type.ts";
import { BlobVerifier } from "../stream/verify.ts";
import { manifestDescriptor } from "./layout-files.ts";
import type { ImageDestination, ImageRef, ImageSource, Transport } from "./types.ts";
import { isValidTag } from "../core/reference.ts";

/** One named in-memory repository: blobs and manifests by digest, tags to digests. */
export interface MemoryRepository {
  readonly blobs: Map<Digest, Uint8Array>;
  readonly manifests: Map<Digest, RawManifest>;
  readonly tags: Map<string, Digest>;
}

const repositories = new Map<string, MemoryRepository>();

/** The process-wide repository called `name`, created on first use. */
export function memoryRepository(name: string): MemoryRepository {
  let repo = repositories.get(name);
  if (!repo) {
    repo = { blobs: new Map(), manifests: new Map(), tags: new Map() };
    repositories.set(name, repo);
  }
  return repo;
}

/** `memory:NAME[:TAG]`: images held in this process, for tests and library callers. */
export const memoryTransport: Transport = {
  name: "memory",
  parse(rest) {
    const [name = "", tag = "latest", ...extra] = rest.split(":");
    if (!/^[a-z0-9][a-z0-9._\-/]*$/.test(name) || extra.length > 0 || !isValidTag(tag)) {
      throw new UsageError(`invalid memory reference "memory:${rest}": expected memory:NAME[:TAG]`);
    }
    return new MemoryRef(name, tag);
  },
};

class MemoryRef implements ImageRef {
  readonly transport = memoryTransport;
  constructor(
    readonly repository: string,
    readonly tag: string,
  ) {}

  toString(): string {
    return `memory:${this.repository}:${this.tag}`;
  }

  async openSource(): Promise<ImageSource> {
    const repo = memoryRepository(this.repository);
    const where = this.toString();
    const top = (): RawManifest => {
      const digest = repo.tags.get(this.tag);
      const m = digest && repo.manifests.get(digest);
      if (!m) throw new NotFoundError(`${where}: no such image`);
      return m;
    };
    return {
      resolve: async () => manifestDescriptor(top()),
      knownTags: async () => [this.tag],
      getManifest: async (digest) => {
        const m = digest ? repo.manifests.get(digest) : top();
        if (!m) throw new NotFoundError(`manifest ${digest}: not found in ${where}`);
        return m;
      },
      getBlob: async (desc) => {
        const bytes = repo.blobs.get(desc.digest);
        if (!bytes) throw new NotFoundError(`blob ${desc.digest}: not found in ${where}`);
        return new Blob([bytes]).stream();
      },
      close: async () => {},
    };
  }

  async openDestination(): Promise<ImageDestination> {
    const repo = memoryRepository(this.repository);
    const where = `writing ${this}`;
    return {
      caps: { manifestTypes: acceptedManifestTypes, manyImages: true },
      hasBlob: async (desc: Descriptor) => repo.blobs.has(desc.digest),
      putBlob: async (desc, body) => {
        const verifier = new BlobVerifier(desc, where);
        const chunks: Uint8Array[] = [];
        for await (const chunk of body) {
          verifier.update(chunk);
          chunks.push(chunk);
        }
        verifier.finish();
        repo.blobs.set(desc.digest, Buffer.concat(chunks));
      },
      putManifest: async (m) => {
        repo.manifests.set(m.digest, m);
      },
      commit: async (m) => {
        repo.manifests.set(m.digest, m);
        repo.tags.set(this.tag, m.digest);
        return m;
      },
      close: async () => {},
    };
  }

  async *listTags(): AsyncIterable<string> {
    yield* memoryRepository(this.repository).tags.keys();
  }

  async delete(): Promise<void> {
    if (!memoryRepository(this.repository).tags.delete(this.tag)) throw new NotFoundError(`${this}: no such image`);
  }
}
