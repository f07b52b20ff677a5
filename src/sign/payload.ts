import type { Digest } from "../core/digest.ts";

export const simpleSigningType = "cosign container image signature";
export const simpleSigningMediaType = "application/vnd.dev.cosign.simplesigning.v1+json";
export const signatureAnnotation = "dev.cosignproject.cosign/signature";
export const cosignSignatureArtifactType = "application/vnd.dev.cosign.artifact.sig.v1+json";

/** cosign's simple-signing payload, in the field order Go's encoding/json writes it. */
export function simpleSigningPayload(dockerReference: string, digest: Digest, annotations: Readonly<Record<string, string>>): Uint8Array {
  const optional = Object.keys(annotations).length > 0 ? annotations : null;
  return new TextEncoder().encode(
    JSON.stringify({ critical: { identity: { "docker-reference": dockerReference }, image: { "docker-manifest-digest": digest }, type: simpleSigningType }, optional }),
  );
}

export interface SimpleSigning {
  readonly critical?: { readonly identity?: { readonly "docker-reference"?: string }; readonly image?: { readonly "docker-manifest-digest"?: string }; readonly type?: string };
  readonly optional?: Readonly<Record<string, unknown>> | null;
}

export function parseSimpleSigning(bytes: Uint8Array): SimpleSigning | undefined {
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return typeof value === "object" && value !== null ? (value as SimpleSigning) : undefined;
  } catch {
    return undefined;
  }
}
