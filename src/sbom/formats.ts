import type { Digest } from "../core/digest.ts";
import type { SbomResult } from "./detect.ts";

export interface SbomSubject {
  readonly name: string;
  readonly digest: Digest;
  readonly tool: string;
  readonly created?: Date;
}

/** SPDX 2.3 JSON: the document, one package per finding with its purl, the image as the described package. */
export function toSpdx(result: SbomResult, subject: SbomSubject): object {
  const created = (subject.created ?? new Date()).toISOString().replace(/\.\d+Z$/, "Z");
  const image = { SPDXID: "SPDXRef-Image", name: subject.name, versionInfo: subject.digest, downloadLocation: "NOASSERTION", filesAnalyzed: false, primaryPackagePurpose: "CONTAINER" };
  const packages = result.packages.map((p, i) => ({
    SPDXID: `SPDXRef-Package-${p.type}-${i}`,
    name: p.name,
    versionInfo: p.version,
    downloadLocation: "NOASSERTION",
    filesAnalyzed: false,
    sourceInfo: `found in ${p.location}`,
    externalRefs: [{ referenceCategory: "PACKAGE-MANAGER", referenceType: "purl", referenceLocator: p.purl }],
  }));
  return {
    spdxVersion: "SPDX-2.3",
    dataLicense: "CC0-1.0",
    SPDXID: "SPDXRef-DOCUMENT",
    name: subject.name,
    documentNamespace: `https://stevedore.invalid/spdx/${subject.digest.replace(":", "-")}/${crypto.randomUUID()}`,
    creationInfo: { created, creators: [`Tool: ${subject.tool}`] },
    packages: [image, ...packages],
    relationships: [
      { spdxElementId: "SPDXRef-DOCUMENT", relationshipType: "DESCRIBES", relatedSpdxElement: "SPDXRef-Image" },
      ...packages.map((p) => ({ spdxElementId: "SPDXRef-Image", relationshipType: "CONTAINS", relatedSpdxElement: p.SPDXID })),
    ],
  };
}

/** CycloneDX 1.5 JSON: the image as the metadata component, a library component per package. */
export function toCycloneDx(result: SbomResult, subject: SbomSubject): object {
  const os = result.os ? [{ type: "operating-system", "bom-ref": `os:${result.os.id}`, name: result.os.id, ...(result.os.versionId ? { version: result.os.versionId } : {}) }] : [];
  return {
    bomFormat: "CycloneDX",
    specVersion: "1.5",
    serialNumber: `urn:uuid:${crypto.randomUUID()}`,
    version: 1,
    metadata: {
      timestamp: (subject.created ?? new Date()).toISOString(),
      tools: { components: [{ type: "application", name: subject.tool.split("-")[0], version: subject.tool.split("-")[1] ?? "" }] },
      component: { type: "container", "bom-ref": subject.digest, name: subject.name, version: subject.digest },
    },
    components: [
      ...os,
      ...result.packages.map((p) => ({
        type: "library",
        "bom-ref": p.purl,
        name: p.name,
        version: p.version,
        purl: p.purl,
        properties: [{ name: "stevedore:location", value: p.location }],
      })),
    ],
  };
}
