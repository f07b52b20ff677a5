import pkg from "../../package.json" with { type: "json" };

export const version: string = pkg.version;

/** What every request to a registry says it comes from, as skopeo's `skopeo/1.13.3` does (operators read it in access logs). */
export const userAgent = `stevedore/${version}`;
