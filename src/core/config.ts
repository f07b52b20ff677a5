import { IntegrityError } from "./errors.ts";

/** The parts of an OCI / Docker image config that stevedore reads; the bytes stay authoritative. */
export interface ImageConfig {
  readonly architecture?: string;
  readonly os?: string;
  readonly variant?: string;
  readonly created?: string;
  readonly author?: string;
  readonly config?: {
    readonly Env?: readonly string[];
    readonly Labels?: Readonly<Record<string, string>> | null;
    readonly Entrypoint?: readonly string[] | null;
    readonly Cmd?: readonly string[] | null;
    readonly WorkingDir?: string;
    readonly User?: string;
    readonly ExposedPorts?: Readonly<Record<string, object>>;
  };
  readonly rootfs?: { readonly type: string; readonly diff_ids: readonly string[] };
  readonly history?: readonly Record<string, unknown>[];
}

export const maxConfigBytes = 8 * 1024 * 1024;

export function parseConfig(bytes: Uint8Array, where: string): ImageConfig {
  if (bytes.byteLength > maxConfigBytes) throw new IntegrityError(`${where}: config is over ${maxConfigBytes} bytes`);
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(bytes));
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as ImageConfig;
  } catch {
    // fall through to the one error below
  }
  throw new IntegrityError(`${where}: image config is not a JSON object`);
}
