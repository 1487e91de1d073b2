// Rate limits for the UI thread: `throttle` for redraws (charts at most a few times per second),
// `debounce` for typing (the predict box asks the models once typing pauses).

export interface Cancellable {
  cancel(): void;
}

/** Calls `fn` at most once per `ms`: at once when idle, else once more at the end of the window. */
export function throttle<A extends unknown[]>(fn: (...args: A) => void, ms: number): ((...args: A) => void) & Cancellable & { flush(): void } {
  let last = -Infinity;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let pending: A | null = null;
  const run = () => {
    timer = null;
    last = Date.now();
    const args = pending;
    pending = null;
    if (args) fn(...args);
  };
  const wrapped = (...args: A) => {
    pending = args;
    const wait = last + ms - Date.now();
    if (wait <= 0 && timer === null) run();
    else if (timer === null) timer = setTimeout(run, Math.max(0, wait));
  };
  wrapped.cancel = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    pending = null;
  };
  wrapped.flush = () => {
    if (timer !== null) clearTimeout(timer);
    if (pending) run();
    else timer = null;
  };
  return wrapped;
}

/** Calls `fn` once `ms` have passed without another call. */
export function debounce<A extends unknown[]>(fn: (...args: A) => void, ms: number): ((...args: A) => void) & Cancellable {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const wrapped = (...args: A) => {
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      fn(...args);
    }, ms);
  };
  wrapped.cancel = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
  };
  return wrapped;
}

/**
 * Keeps only the latest of overlapping async requests: `next()` returns a token, `isLatest(token)`
 * tells whether a reply is still wanted (a slower earlier reply must not overwrite a newer one).
 */
export function latestOnly(): { next(): number; isLatest(token: number): boolean } {
  let current = 0;
  return { next: () => ++current, isLatest: (t) => t === current };
}

/**
 * Calls `fn` now, then again `ms` after each call has settled (a slow answer never overlaps the
 * next call); `cancel()` stops it, including a call already waiting for its turn.
 */
export function poll(fn: () => unknown, ms: number): Cancellable {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;
  const tick = async () => {
    timer = null;
    try {
      await fn();
    } catch {
      // the caller shows its own errors; polling goes on
    }
    if (!stopped) timer = setTimeout(() => void tick(), ms);
  };
  void tick();
  return {
    cancel() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
    },
  };
}
