/**
 * A chapter's parameters live in the URL query (`?image=astronaut&minSize=640&backend=wasm`), so a
 * link reproduces the view. Reads validate (a bad value falls back to the default); writes use
 * `history.replaceState` (moving a slider does not flood the history).
 */

export function getParam(key: string): string | null {
  return new URLSearchParams(location.search).get(key);
}

/** A number parameter within [lo, hi] (inclusive), else `fallback`. */
export function getNumberParam(key: string, lo: number, hi: number, fallback: number): number {
  const raw = getParam(key);
  if (raw === null || raw.trim() === '') return fallback;
  const v = Number(raw);
  return Number.isFinite(v) && v >= lo && v <= hi ? v : fallback;
}

/** Set (or with `null`, remove) parameters, keeping the others. */
export function setParams(values: Record<string, string | number | null>): void {
  const url = new URL(location.href);
  for (const [k, v] of Object.entries(values)) {
    if (v === null) url.searchParams.delete(k);
    else url.searchParams.set(k, String(v));
  }
  if (url.href !== location.href) history.replaceState(history.state, '', url);
  window.dispatchEvent(new CustomEvent('lab:params'));
}

/** This page's URL with its current parameters (for "copy link"). */
export function shareableUrl(): string {
  return location.href;
}
