import type { ImageConfig } from "../core/config.ts";
import { type Digest, digestOf } from "../core/digest.ts";
import { UsageError } from "../core/errors.ts";
import { type ImageManifest, type RawManifest, encodeManifest } from "../core/manifest.ts";
import { type Platform } from "../core/platform.ts";
import type { ImageRef } from "../transport/types.ts";
import { type CopyOptions, type CopyResult, copy } from "./copy.ts";
import { chooseImage, readImageConfig } from "./inspect.ts";
import { type AddedBlob, overlayRef } from "./overlay.ts";

export interface ConfigEdits {
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  /** `KEY=VALUE`: replaces KEY if set, else appended. */
  readonly env?: readonly string[];
  readonly entrypoint?: readonly string[];
  readonly cmd?: readonly string[];
  readonly workdir?: string;
  readonly user?: string;
  /** Changes the platform the config declares (os, architecture, variant). */
  readonly platform?: Platform;
}

export interface EditOptions extends CopyOptions {
  /** Which image of an index to edit (default: the host's). */
  readonly from?: Platform;
}

/** A new config and manifest around the same layers; the bytes we make are new, the layers keep their digests. */
export interface Edit {
  readonly config: (config: Record<string, unknown>) => Record<string, unknown>;
  readonly layers?: (image: ImageManifest) => { layers: ImageManifest["layers"]; added: Map<Digest, AddedBlob> };
  readonly annotations?: Readonly<Record<string, string>>;
}

/** Applies an edit to the image at `src` and writes the result to `dst` through copy. */
export async function editImage(src: ImageRef, dst: ImageRef, edit: Edit, options: EditOptions = {}): Promise<CopyResult> {
  const source = await src.openSource({ signal: options.signal, registry: options.sourceRegistry });
  try {
    const { image } = await chooseImage(source, options.from);
    const config = edit.config((await readImageConfig(source, image)) as Record<string, unknown>);
    const { layers, added } = edit.layers?.(image) ?? { layers: image.layers, added: new Map<Digest, AddedBlob>() };
    const newConfig = new TextEncoder().encode(JSON.stringify(config));
    const configDesc = { mediaType: image.config.mediaType, digest: digestOf(newConfig), size: newConfig.byteLength };
    added.set(configDesc.digest, { bytes: newConfig });
    const manifest = rebuildManifest(image, configDesc, layers, edit.annotations);
    return await copy(overlayRef(src, source, manifest, added), dst, options);
  } finally {
    await source.close();
  }
}

function rebuildManifest(image: ImageManifest, config: ImageManifest["config"], layers: ImageManifest["layers"], annotations?: Readonly<Record<string, string>>): RawManifest {
  const merged = { ...image.annotations, ...annotations };
  return encodeManifest(
    {
      schemaVersion: 2,
      mediaType: image.mediaType,
      ...(image.artifactType ? { artifactType: image.artifactType } : {}),
      config,
      layers,
      ...(image.subject ? { subject: image.subject } : {}),
      ...(Object.keys(merged).length > 0 ? { annotations: merged } : {}),
    },
    image.mediaType,
  );
}

function setEnv(env: readonly string[], updates: readonly string[]): string[] {
  const out = [...env];
  for (const update of updates) {
    const key = update.slice(0, update.indexOf("="));
    if (!key) throw new UsageError(`--env ${update}: expected KEY=VALUE`);
    const at = out.findIndex((e) => e.startsWith(`${key}=`));
    if (at === -1) out.push(update);
    else out[at] = update;
  }
  return out;
}

/** crane mutate's edits: labels, env, entrypoint, cmd, workdir, user, platform, manifest annotations. */
export function mutate(src: ImageRef, dst: ImageRef, edits: ConfigEdits, options: EditOptions = {}): Promise<CopyResult> {
  return editImage(
    src,
    dst,
    {
      annotations: edits.annotations,
      config: (config) => {
        const inner = { ...((config.config as ImageConfig["config"]) ?? {}) } as Record<string, unknown>;
        if (edits.labels) inner.Labels = { ...((inner.Labels as Record<string, string> | null) ?? {}), ...edits.labels };
        if (edits.env) inner.Env = setEnv((inner.Env as string[] | undefined) ?? [], edits.env);
        if (edits.entrypoint) inner.Entrypoint = [...edits.entrypoint];
        if (edits.cmd) inner.Cmd = [...edits.cmd];
        if (edits.workdir !== undefined) inner.WorkingDir = edits.workdir;
        if (edits.user !== undefined) inner.User = edits.user;
        const platform = edits.platform ? { os: edits.platform.os, architecture: edits.platform.architecture, ...(edits.platform.variant ? { variant: edits.platform.variant } : {}) } : {};
        return { ...config, ...platform, config: inner };
      },
    },
    options,
  );
}
