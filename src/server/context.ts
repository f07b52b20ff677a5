import type { Store } from "../store/types.ts";
import type { AccessPolicy, Action, Principal } from "./access.ts";

export interface HandlerOptions {
  readonly store: Store;
  readonly policy: AccessPolicy;
  /** Refuse every write (pushes, deletes): 405 UNSUPPORTED. */
  readonly readOnly?: boolean;
  /** Allow deleting manifests, tags and blobs (off by default, as in distribution). */
  readonly allowDelete?: boolean;
  /** Whether the server is stopping: /readyz then answers 503, so a load balancer sends no more. */
  readonly stopping?: () => boolean;
}

/** What an endpoint needs: the request, its URL, the store, and a way to demand access. */
export interface RequestContext {
  readonly request: Request;
  readonly url: URL;
  readonly options: HandlerOptions;
  readonly principal: Principal;
  /** Throws the right 401/403 unless the caller may do `action` on `repo`. */
  require(action: Action, repo?: string): Promise<void>;
}

export const apiVersionHeader = { "Docker-Distribution-API-Version": "registry/2.0" } as const;
