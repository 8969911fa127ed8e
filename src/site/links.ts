/** Links between chapters that carry the reader's image, model and backend along. */
import type { StageName } from '../model.ts';
import { STAGE_CHAPTER, chapterHref } from './chapters.ts';

const KEEP = ['image', 'model', 'backend'] as const;

/** The chapter's URL with the kept parameters of this page, or null while the chapter is coming. */
export function chapterLink(n: number, base: string): string | null {
  const href = chapterHref(n, base);
  if (href === null) return null;
  const here = new URLSearchParams(location.search);
  const keep = new URLSearchParams();
  for (const k of KEEP) {
    const v = here.get(k);
    if (v !== null) keep.set(k, v);
  }
  const q = keep.toString();
  return q ? `${href}?${q}` : href;
}

/** The link of the chapter that explains `stage`. */
export function stageLink(stage: StageName, base: string): string | null {
  return chapterLink(STAGE_CHAPTER[stage], base);
}
