import { UsageError } from "./errors.ts";

/** `algorithm:hex`, validated: only made by `parseDigest` and `digestOf`, so safe in paths and URLs. */
export type Digest = string & { readonly __brand: "Digest" };
export type DigestAlgorithm = "sha256" | "sha512";

const hexLength: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
const digestPattern = /^(sha256|sha512):([0-9a-f]+)$/;

export function isDigestAlgorithm(value: string): value is DigestAlgorithm {
  return Object.hasOwn(hexLength, value);
}

/** Validates algorithm and hex length before a digest may name a file or a URL. */
export function parseDigest(text: string): Digest {
  const match = digestPattern.exec(text);
  if (!match) {
    const algorithm = text.split(":", 1)[0] ?? "";
    if (text.includes(":") && !isDigestAlgorithm(algorithm) && /^[a-z0-9]+([+._-][a-z0-9]+)*$/.test(algorithm)) {
      throw new UsageError(`unsupported digest algorithm "${algorithm}" in "${text}"`);
    }
    throw new UsageError(`invalid digest "${text}": expected sha256:<64 hex> or sha512:<128 hex>`);
  }
  const [, algorithm, hex] = match as unknown as [string, DigestAlgorithm, string];
  if (hex.length !== hexLength[algorithm]) {
    throw new UsageError(`invalid digest "${text}": ${algorithm} needs ${hexLength[algorithm]} hex characters`);
  }
  return text as Digest;
}

export function isDigest(text: string): boolean {
  try {
    parseDigest(text);
    return true;
  } catch {
    return false;
  }
}

export function digestAlgorithm(digest: Digest): DigestAlgorithm {
  return digest.slice(0, digest.indexOf(":")) as DigestAlgorithm;
}

export function digestHex(digest: Digest): string {
  return digest.slice(digest.indexOf(":") + 1);
}

/** Digest of bytes held in memory (manifests, configs): never of re-serialised JSON. */
export function digestOf(bytes: Uint8Array | string, algorithm: DigestAlgorithm = "sha256"): Digest {
  return `${algorithm}:${new Bun.CryptoHasher(algorithm).update(bytes).digest("hex")}` as Digest;
}

/** An incremental hasher that ends in a Digest. */
export class DigestHasher {
  private readonly hasher: Bun.CryptoHasher;
  constructor(readonly algorithm: DigestAlgorithm = "sha256") {
    this.hasher = new Bun.CryptoHasher(algorithm);
  }
  update(chunk: Uint8Array): void {
    this.hasher.update(chunk);
  }
  digest(): Digest {
    return `${this.algorithm}:${this.hasher.digest("hex")}` as Digest;
  }
}

/** Short form for messages: `sha256:3c4d5e6f7a8b`. */
export function shortDigest(digest: string): string {
  return digest.slice(0, digest.indexOf(":") + 13);
}
