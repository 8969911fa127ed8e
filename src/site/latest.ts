/**
 * A listener subscription as an async generator of its latest value, the shape of an Observable
 * cell's value: it yields the current value (`initial()`, read on the first `next()`, once `ready`
 * accepts it), then each value that is not `same` as the last one yielded. Values that arrive while
 * the consumer is busy collapse into the newest, so a slow cell never works through a backlog.
 */
export async function* latestValues<T>(
  subscribe: (push: (value: T) => void) => () => void,
  initial: () => T,
  options: { ready?: (value: T) => boolean; same?: (a: T, b: T) => boolean } = {},
): AsyncGenerator<T> {
  const ready = options.ready ?? (() => true);
  const same = options.same ?? Object.is;
  let latest = initial();
  let wake: (() => void) | undefined;
  const off = subscribe((value) => {
    latest = value;
    wake?.();
  });
  let last: { value: T } | undefined;
  try {
    for (;;) {
      if (ready(latest) && (last === undefined || !same(last.value, latest))) {
        last = { value: latest };
        yield latest;
      } else {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    }
  } finally {
    off();
  }
}
