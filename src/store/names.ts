import { UsageError } from "../core/errors.ts";
import { isValidTag } from "../core/reference.ts";

const uploadIdPattern = /^[0-9a-f]{32}$/;

/** A fresh upload session id: 32 lowercase hex digits, the only shape `isUploadId` accepts. */
export const newUploadId = (): string => crypto.randomUUID().replaceAll("-", "");

export const isUploadId = (id: string): boolean => uploadIdPattern.test(id);

/** Names arrive validated; this only keeps a bad one from leaving a store's root or hitting its metadata (`_`-prefixed). */
export function checkRepoName(repo: string): void {
  if (repo.split("/").some((part) => part === "" || part === "." || part === ".." || part.startsWith("_"))) {
    throw new UsageError(`invalid repository name "${repo}"`);
  }
}

export function checkTag(tag: string): void {
  if (!isValidTag(tag)) throw new UsageError(`invalid tag "${tag}"`);
}
