/**
 * The helpers for answers that may come now or later: a hook, a runtime
 * callback or a store may answer with a value or with a promise, and a
 * synchronous answer must stay synchronous (no microtask on the data path).
 * Used on every thread.
 */

/** A value now, or a promise of it. */
export type MaybePromise<T> = T | Promise<T>;

export function isPromise<T>(value: MaybePromise<T>): value is Promise<T> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** `next(value)` now, or once `value` settles: a synchronous chain stays synchronous. */
export function andThen<T>(value: MaybePromise<T>, next: (v: T) => MaybePromise<void>): MaybePromise<void> {
  return isPromise(value) ? value.then(next) : next(value);
}

/**
 * `promise`'s value, or `onTimeout()` once `timeoutMs` has passed without
 * one. A rejection gives `onRejected(err)`, or rejects without it.
 */
export function withTimeout<T>(promise: Promise<T>, timeoutMs: number, onTimeout: () => T, onRejected?: (err: unknown) => T): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => resolve(onTimeout()), timeoutMs);
    timer.unref();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        if (onRejected) resolve(onRejected(err));
        else reject(err);
      },
    );
  });
}
