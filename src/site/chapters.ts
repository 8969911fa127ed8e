/**
 * The site's chapters (issue 5) and which paper stage each explains. A chapter that is not written
 * yet is listed as "coming" and never linked.
 */
import type { StageName } from '../model.ts';

export interface Chapter {
  n: number;
  slug: string;
  title: string;
  /** One line for the nav and the home page. */
  summary: string;
  /** Written and live on the site. */
  ready: boolean;
}

export const CHAPTERS: readonly Chapter[] = [
  { n: 1, slug: 'pipeline', title: 'The whole pipeline', summary: 'Run Mask R-CNN on a picture and see every stage’s time.', ready: true },
  { n: 2, slug: 'input', title: 'Input', summary: 'Normalization, the 800/1333 resize rule and padding to 32.', ready: true },
  { n: 3, slug: 'backbone', title: 'Backbone and FPN', summary: 'Feature maps C2–C5 and P2–P6, any channel.', ready: true },
  { n: 4, slug: 'anchors', title: 'Anchors', summary: '3 ratios × 1 size per level, at any cell.', ready: true },
  { n: 5, slug: 'rpn', title: 'Region proposal network', summary: 'Objectness, top-k, NMS step by step.', ready: true },
  { n: 6, slug: 'levels', title: 'Level assignment', summary: 'k = ⌊4 + log2(√wh / 224)⌋ for every RoI.', ready: true },
  { n: 7, slug: 'roi-pooling', title: 'RoIPool vs RoIWarp vs RoIAlign', summary: 'Quantization, bins, sampling points.', ready: true },
  { n: 8, slug: 'box-head', title: 'Box head', summary: 'Class probabilities, per-class boxes, NMS.', ready: true },
  { n: 9, slug: 'mask-head', title: 'Mask head', summary: 'K masks per RoI; sigmoid, not softmax.', ready: true },
  { n: 10, slug: 'paste', title: 'Paste-back', summary: '28×28 → the box → threshold.', ready: true },
  { n: 11, slug: 'training', title: 'Training', summary: 'The multi-task loss, live.', ready: true },
  { n: 12, slug: 'ablation', title: 'Ablation', summary: 'RoIPool vs RoIAlign models side by side.', ready: true },
  { n: 13, slug: 'keypoints', title: 'Keypoints', summary: 'The same machinery, K one-hot masks: human pose.', ready: false },
];

/** The chapter that explains each stage of the engine. */
export const STAGE_CHAPTER: Readonly<Record<StageName, number>> = {
  transform: 2,
  backbone: 3,
  fpn: 3,
  rpnHead: 5,
  anchors: 4,
  proposals: 5,
  boxRoiPool: 7,
  boxHead: 8,
  detections: 8,
  maskRoiPool: 7,
  maskHead: 9,
  paste: 10,
  keypointRoiPool: 13,
  keypointHead: 13,
  keypoints: 13,
};

/** Paper names of the stages, for diagrams and tables. */
export const STAGE_LABELS: Readonly<Record<StageName, string>> = {
  transform: 'transform',
  backbone: 'backbone C2–C5',
  fpn: 'FPN P2–P6',
  rpnHead: 'RPN head',
  anchors: 'anchors',
  proposals: 'proposals (NMS)',
  boxRoiPool: 'box RoIAlign 7×7',
  boxHead: 'box head',
  detections: 'detections (NMS)',
  maskRoiPool: 'mask RoIAlign 14×14',
  maskHead: 'mask head',
  paste: 'paste-back',
  keypointRoiPool: 'keypoint RoIAlign 14×14',
  keypointHead: 'keypoint head',
  keypoints: 'keypoints (argmax)',
};

/** `/BASE/slug/` for a ready chapter, null for one still coming. */
export function chapterHref(n: number, base: string): string | null {
  const c = CHAPTERS.find((x) => x.n === n);
  if (c === undefined || !c.ready) return null;
  return `${base.endsWith('/') ? base : `${base}/`}${c.slug}/`;
}
