import { describeTransport } from "./contract.ts";

describeTransport("oci", { make: (dir, name) => `oci:${dir}/layout:${name}`, keepsDigests: true, manyImages: true });
describeTransport("dir", { make: (dir, name) => `dir:${dir}/${name}`, keepsDigests: true, manyImages: true });
describeTransport("memory", { make: (dir, name) => `memory:${dir.split("/").pop()!.toLowerCase()}-${name}:v1`, keepsDigests: true, manyImages: true });
describeTransport("oci-archive", { make: (dir, name) => `oci-archive:${dir}/${name}.tar:${name}`, keepsDigests: true, manyImages: true });
describeTransport("docker-archive", { make: (dir, name) => `docker-archive:${dir}/${name}.tar:example.com/${name}:v1`, keepsDigests: false, manyImages: false });
