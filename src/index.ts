/** The library façade: what programs that embed stevedore import. The CLI is a thin shell over it. */
export { Exit, StevedoreError, UsageError, NotFoundError, AuthError, IntegrityError, UnsupportedError, InterruptedError } from "./core/errors.ts";
export { type Digest, parseDigest, digestOf } from "./core/digest.ts";
export { type Reference, parseReference, formatReference, familiarReference } from "./core/reference.ts";
export { type Descriptor } from "./core/descriptor.ts";
export { type RawManifest, type Manifest, parseManifest, toRawManifest } from "./core/manifest.ts";
export { MediaTypes } from "./core/media-type.ts";
export { type Platform, parsePlatform, formatPlatform, hostPlatform } from "./core/platform.ts";
export { parseImageRef, transports } from "./transport/index.ts";
export type { ImageRef, ImageSource, ImageDestination, Transport } from "./transport/types.ts";
export { copy, type CopyOptions, type CopyResult, type CopyEvent } from "./verbs/copy.ts";
export { inspect, getConfig, getRawManifest, type InspectSummary } from "./verbs/inspect.ts";
