import type { Descriptor } from "../core/descriptor.ts";
import { DigestHasher, digestAlgorithm, shortDigest } from "../core/digest.ts";
import { IntegrityError } from "../core/errors.ts";

/** Checks bytes against a descriptor as they pass: too many bytes fail at once, a wrong digest at the end. */
export class BlobVerifier {
  private readonly hasher: DigestHasher;
  private seen = 0;

  /** `size` undefined: only the digest is checked (a body whose length nobody declared). */
  constructor(
    private readonly desc: Pick<Descriptor, "digest"> & { readonly size?: number },
    private readonly where: string,
  ) {
    this.hasher = new DigestHasher(digestAlgorithm(desc.digest));
  }

  update(chunk: Uint8Array): void {
    this.seen += chunk.byteLength;
    if (this.desc.size !== undefined && this.seen > this.desc.size) {
      throw new IntegrityError(`blob ${shortDigest(this.desc.digest)}: more than the expected ${this.desc.size} bytes ${this.where}`);
    }
    this.hasher.update(chunk);
  }

  finish(): void {
    if (this.desc.size !== undefined && this.seen !== this.desc.size) {
      throw new IntegrityError(`blob ${shortDigest(this.desc.digest)}: size mismatch (got ${this.seen} of ${this.desc.size} bytes) ${this.where}`);
    }
    const actual = this.hasher.digest();
    if (actual !== this.desc.digest) {
      throw new IntegrityError(`blob ${shortDigest(this.desc.digest)}: digest mismatch (got ${shortDigest(actual)}) ${this.where}`);
    }
  }
}

/** A pass-through stream that errors on any size or digest mismatch, for readers that do not write. */
export function verifyStream(body: ReadableStream<Uint8Array>, desc: Descriptor, where: string): ReadableStream<Uint8Array> {
  const verifier = new BlobVerifier(desc, where);
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) {
        verifier.finish();
        controller.close();
        return;
      }
      verifier.update(value);
      controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

/** Reads a small verified blob (a config) whole. */
export async function readVerified(body: ReadableStream<Uint8Array>, desc: Descriptor, where: string): Promise<Uint8Array> {
  return new Uint8Array(await new Response(verifyStream(body, desc, where)).arrayBuffer());
}

/** Reads a body only to check it against its digest (and size): a blob a store holds already, whose bytes it keeps. */
export async function verifyOnly(body: ReadableStream<Uint8Array> | Uint8Array, desc: Pick<Descriptor, "digest"> & { readonly size?: number }, where: string): Promise<void> {
  const verifier = new BlobVerifier(desc, where);
  if (body instanceof Uint8Array) verifier.update(body);
  else for await (const chunk of body) verifier.update(chunk);
  verifier.finish();
}
