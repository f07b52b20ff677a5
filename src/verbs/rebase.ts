import { UsageError } from "../core/errors.ts";
import type { Digest } from "../core/digest.ts";
import type { ImageRef } from "../transport/types.ts";
import type { CopyResult } from "./copy.ts";
import { chooseImage, readImageConfig } from "./inspect.ts";
import { type EditOptions, editImage } from "./mutate.ts";
import type { AddedBlob } from "./overlay.ts";

interface BaseConfig {
  readonly rootfs?: { readonly diff_ids?: readonly string[] };
  readonly history?: readonly { readonly empty_layer?: boolean }[];
}

/**
 * crane rebase: IMAGE's layers on top of OLD are put on top of NEW instead. IMAGE must start with
 * exactly OLD's layers; diff_ids and history are rebuilt from NEW's and IMAGE's own.
 */
export async function rebase(image: ImageRef, oldBase: ImageRef, newBase: ImageRef, dst: ImageRef, options: EditOptions = {}): Promise<CopyResult> {
  const open = async (ref: ImageRef) => {
    const source = await ref.openSource({ signal: options.signal, registry: options.sourceRegistry });
    const { image: manifest } = await chooseImage(source, options.from);
    const config = (await readImageConfig(source, manifest, String(ref))) as BaseConfig;
    return { source, manifest, config };
  };
  const [old, next] = [await open(oldBase), await open(newBase)];
  try {
    return await editImage(
      image,
      dst,
      {
        layers: (current) => {
          const oldDigests = old.manifest.layers.map((l) => l.digest);
          if (oldDigests.some((d, i) => current.layers[i]?.digest !== d)) throw new UsageError(`${image} is not built on ${oldBase}: its first layers differ`);
          const added = new Map<Digest, AddedBlob>(next.manifest.layers.map((l) => [l.digest, { source: next.source }]));
          return { layers: [...next.manifest.layers, ...current.layers.slice(oldDigests.length)], added };
        },
        config: (config) => {
          const own = config as BaseConfig;
          const oldLayers = old.manifest.layers.length;
          const oldHistory = old.config.history?.length ?? 0;
          return {
            ...config,
            rootfs: { type: "layers", diff_ids: [...(next.config.rootfs?.diff_ids ?? []), ...(own.rootfs?.diff_ids ?? []).slice(oldLayers)] },
            history: [...(next.config.history ?? []), ...(own.history ?? []).slice(oldHistory)],
          };
        },
      },
      options,
    );
  } finally {
    await old.source.close();
    await next.source.close();
  }
}
