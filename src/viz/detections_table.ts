/** `detectionsTable(data) → <table>`: the text alternative of the detections figure. */
import { table } from './svg.ts';

export interface DetectionsTableData {
  boxes: Float32Array;
  labels: Int32Array;
  scores: Float32Array;
  classNames: readonly string[];
  /** Mask area (pixels > threshold) per detection, if known. */
  maskAreas?: readonly number[];
}

export function detectionsTable(data: DetectionsTableData, caption = 'Detections, highest score first'): HTMLTableElement {
  const rows = Array.from(data.labels, (label, d) => [
    d + 1,
    data.classNames[label] ?? `class ${label}`,
    data.scores[d]!.toFixed(3),
    Array.from(data.boxes.subarray(4 * d, 4 * d + 4), (v) => v.toFixed(1)).join(', '),
    data.maskAreas?.[d] ?? '',
  ]);
  return table(caption, ['#', 'class', 'score', 'box x1, y1, x2, y2 (px)', 'mask area (px)'], rows);
}

/** Pixels of a pasted mask region above `threshold` (p > t, like the RLE). */
export function maskArea(region: { data: Float32Array }, threshold: number): number {
  let n = 0;
  for (const v of region.data) if (v > threshold) n++;
  return n;
}
