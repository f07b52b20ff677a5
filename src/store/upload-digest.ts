import { type Digest, type DigestHasher, digestAlgorithm, shortDigest } from "../core/digest.ts";
import { IntegrityError } from "../core/errors.ts";

/**
 * Checks an upload's bytes against the digest it is finished under: by the hasher fed as its
 * chunks landed when that hashes the digest's algorithm (no second read), else by `rehash`
 * (after a restart, a failed chunk, or another algorithm). A mismatch is an IntegrityError.
 */
export async function checkUploadDigest(hasher: DigestHasher | undefined, digest: Digest, rehash: () => Promise<Digest>, where: string): Promise<void> {
  const actual = hasher?.algorithm === digestAlgorithm(digest) ? hasher.digest() : await rehash();
  if (actual !== digest) throw new IntegrityError(`blob ${shortDigest(digest)}: digest mismatch (got ${shortDigest(actual)}) finishing upload ${where}`);
}
