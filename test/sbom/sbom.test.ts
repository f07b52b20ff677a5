import { beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseImageRef } from "../../src/transport/index.ts";
import { requirePeer, run, stevedore } from "../helpers/cli.ts";
import { layeredImage } from "../helpers/layered-image.ts";
import { writeImage } from "../helpers/random-image.ts";
import { tmpDir } from "../helpers/tmp.ts";

const dir = tmpDir();
const ref = `oci:${join(dir, "layout")}:sbom`;

/** A small record of apk's real installed-database format (as in Alpine's /lib/apk/db/installed). */
const apkInstalled = `C:Q1rY0wYgkSq2PP6eFSpn8B4TLU+Z4=
P:musl
V:1.2.4-r2
A:x86_64
S:383152
I:622592
T:the musl c library (libc) implementation
L:MIT

C:Q1E5AwYgkSq2PP6eFSpn8B4TLU+Z4=
P:busybox
V:1.36.1-r15
A:x86_64
T:Size optimized toolbox of many common UNIX utilities
`;

/** An RPM header blob (rpm's on-disk header format, without the magic) with string and int32 tags. */
function rpmHeader(fields: [tag: number, value: string | number][]): Uint8Array {
  const data: number[] = [];
  const entries: number[][] = [];
  for (const [tag, value] of fields) {
    if (typeof value === "number") {
      while (data.length % 4) data.push(0);
      entries.push([tag, 4, data.length, 1]);
      data.push((value >>> 24) & 255, (value >>> 16) & 255, (value >>> 8) & 255, value & 255);
    } else {
      entries.push([tag, 6, data.length, 1]);
      data.push(...new TextEncoder().encode(value), 0);
    }
  }
  const out = new DataView(new ArrayBuffer(8 + entries.length * 16 + data.length));
  out.setUint32(0, entries.length);
  out.setUint32(4, data.length);
  entries.forEach((e, i) => e.forEach((v, j) => out.setUint32(8 + i * 16 + j * 4, v)));
  new Uint8Array(out.buffer).set(data, 8 + entries.length * 16);
  return new Uint8Array(out.buffer);
}

/** An rpmdb.sqlite with rpm's own Packages schema. */
function rpmDatabase(): string {
  const path = join(dir, "rpmdb.sqlite");
  const db = new Database(path);
  db.run("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)");
  db.run("INSERT INTO Packages (blob) VALUES (?)", [rpmHeader([[1000, "bash"], [1001, "5.2.15"], [1002, "3.el9"], [1022, "x86_64"]])]);
  db.run("INSERT INTO Packages (blob) VALUES (?)", [rpmHeader([[1000, "openssl-libs"], [1001, "3.0.7"], [1002, "27.el9"], [1003, 1], [1022, "x86_64"]])]);
  db.close();
  return path;
}

beforeAll(async () => {
  const image = await layeredImage([
    [
      { path: "etc" },
      { path: "etc/os-release", text: readFileSync("/etc/os-release", "utf8") },
      { path: "var" },
      { path: "var/lib" },
      { path: "var/lib/dpkg" },
      { path: "var/lib/dpkg/status", text: readFileSync("/var/lib/dpkg/status", "utf8") },
    ],
    [
      { path: "lib" },
      { path: "lib/apk" },
      { path: "lib/apk/db" },
      { path: "lib/apk/db/installed", text: apkInstalled },
      { path: "app/node_modules/left-pad/package.json", text: '{"name":"left-pad","version":"1.3.0"}' },
      { path: "app/node_modules/@scope/thing/package.json", text: '{"name":"@scope/thing","version":"2.0.1"}' },
      { path: "usr/lib/python3/dist-packages/Requests-2.31.0.dist-info/METADATA", text: "Metadata-Version: 2.1\nName: Requests\nVersion: 2.31.0\n" },
      { path: "var/lib/rpm/rpmdb.sqlite", bytes: readFileSync(rpmDatabase()) },
      // a real Go binary of this machine: Debian's docker-registry
      { path: "usr/bin/registry", bytes: readFileSync(requirePeer("docker-registry")), mode: 0o755 },
    ],
  ]);
  await writeImage(parseImageRef(ref), image);
});

describe("sbom", () => {
  test("every installed dpkg package of this machine is listed with its version", async () => {
    const installed = (await run(["dpkg-query", "-W", "-f", "${db:Status-Abbrev}|${Package}|${Version}\\n"])).stdout
      .split("\n")
      .filter((l) => l.startsWith("ii"))
      .map((l) => l.split("|").slice(1).join(" "))
      .sort();
    expect(installed.length).toBeGreaterThan(50);
    const spdx = JSON.parse((await stevedore(["sbom", "--format", "spdx-json", ref])).stdout);
    const debs = spdx.packages.filter((p: { externalRefs?: { referenceLocator: string }[] }) => p.externalRefs?.[0]?.referenceLocator.startsWith("pkg:deb/"));
    expect(debs.map((p: { name: string; versionInfo: string }) => `${p.name} ${p.versionInfo}`).sort()).toEqual(installed);
  });

  test("apk, npm (scoped too) and Python packages are found with their purls", async () => {
    const cdx = JSON.parse((await stevedore(["sbom", "--format", "cyclonedx-json", ref])).stdout);
    const purls = cdx.components.map((c: { purl?: string }) => c.purl).filter(Boolean);
    expect(purls).toContain("pkg:apk/debian/musl@1.2.4-r2?arch=x86_64");
    expect(purls).toContain("pkg:apk/debian/busybox@1.36.1-r15?arch=x86_64");
    expect(purls).toContain("pkg:npm/left-pad@1.3.0");
    expect(purls).toContain("pkg:npm/%40scope/thing@2.0.1");
    expect(purls).toContain("pkg:pypi/requests@2.31.0");
    expect(purls.some((p: string) => /^pkg:golang\/stdlib@1\.\d+/.test(p))).toBe(true);
    const rpms = purls.filter((p: string) => p.startsWith("pkg:rpm/"));
    expect(rpms).toHaveLength(2);
    expect(rpms[0]).toMatch(/^pkg:rpm\/[a-z]+\/bash@5\.2\.15-3\.el9\?arch=x86_64(&distro=.+)?$/);
    expect(rpms[1]).toMatch(/^pkg:rpm\/[a-z]+\/openssl-libs@3\.0\.7-27\.el9\?arch=x86_64&epoch=1(&distro=.+)?$/);
  });

  test("SPDX 2.3 and CycloneDX 1.5 documents carry their required fields", async () => {
    const spdx = JSON.parse((await stevedore(["sbom", "--format", "spdx-json", ref])).stdout);
    for (const field of ["spdxVersion", "dataLicense", "SPDXID", "name", "documentNamespace", "creationInfo", "packages"]) expect(spdx).toHaveProperty(field);
    expect(spdx.spdxVersion).toBe("SPDX-2.3");
    expect(spdx.creationInfo.creators[0]).toStartWith("Tool: stevedore-");
    expect(spdx.creationInfo.created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    for (const p of spdx.packages) for (const field of ["SPDXID", "name", "downloadLocation"]) expect(p).toHaveProperty(field);
    expect(spdx.relationships[0]).toEqual({ spdxElementId: "SPDXRef-DOCUMENT", relationshipType: "DESCRIBES", relatedSpdxElement: "SPDXRef-Image" });
    const cdx = JSON.parse((await stevedore(["sbom", "--format", "cyclonedx-json", ref])).stdout);
    expect(cdx).toMatchObject({ bomFormat: "CycloneDX", specVersion: "1.5", version: 1 });
    expect(cdx.serialNumber).toMatch(/^urn:uuid:[0-9a-f-]{36}$/);
    for (const c of cdx.components) for (const field of ["type", "name"]) expect(c).toHaveProperty(field);
    expect(cdx.components[0]).toMatchObject({ type: "operating-system", name: "debian" });
  });

  test("the table lists OS and packages", async () => {
    const table = (await stevedore(["sbom", "--format", "table", ref])).stdout.split("\n");
    expect(table[0]).toStartWith("# Debian");
    expect(table[1]).toMatch(/^NAME +VERSION +TYPE +PURL$/);
  });
});
