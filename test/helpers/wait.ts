/**
 * Bounded polling for the tests that wait on state with no event to wait
 * for (a store written on a later turn, a record on disk): checks every
 * POLL_MS and fails with `what` once `boundMs` has passed.
 */
const POLL_MS = 10;

/** Resolves with the first value `find` gives that is not undefined; rejects after `boundMs`. */
export async function pollFor<T>(find: () => T | undefined | Promise<T | undefined>, what: string, boundMs = 5_000): Promise<T> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const found = await find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`waited ${boundMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** Resolves once `check` holds; rejects after `boundMs`. */
export async function waitUntil(check: () => boolean | Promise<boolean>, what: string, boundMs = 5_000): Promise<void> {
  await pollFor(async () => ((await check()) ? true : undefined), what, boundMs);
}
