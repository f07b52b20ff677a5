/**
 * Runs `task` over `items` with at most `jobs` at once. After the first failure no new task
 * starts, and the promise rejects only once every running task has settled, so the caller's
 * clean-up never races a task still writing.
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  jobs: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let firstError: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (!firstError && next < items.length) {
      const index = next++;
      try {
        results[index] = await task(items[index] as T, index);
      } catch (error) {
        firstError ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, items.length)) }, worker));
  if (firstError) throw firstError.error;
  return results;
}
