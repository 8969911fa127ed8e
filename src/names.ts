/**
 * What a model calls its classes and keypoints, for the CLI's result.json and the site's figures:
 * the names a shipped model's about.json gives, else the names of the data set whose layout it has
 * (torchvision's COCO 91 classes, COCO person keypoints for a 2-class 17-keypoint model, the scenes'
 * 7 classes, the figures' 2 classes and 14 keypoints), else "class k" / "keypoint k".
 */
import type { MaskRcnnConfig } from './config.ts';
import { COCO_CATEGORIES, COCO_PERSON_CATEGORIES, COCO_PERSON_KEYPOINT_NAMES } from './coco.ts';
import { FIGURE_CLASSES, KEYPOINT_NAMES } from './data/figure.ts';
import { SCENE_CLASSES } from './data/shapes.ts';

export class NamesError extends Error {
  override name = 'NamesError';
}

/** The names given for a model (about.json's `classNames`, `keypointNames`). */
export interface GivenNames {
  classNames?: readonly string[];
  keypointNames?: readonly string[];
}

/**
 * One name per class (index = label; 0 is the background), or undefined when neither the given names
 * (ignored when they do not fit the count) nor a known layout names them (`genericNames` then).
 */
export function classNamesOf(config: Pick<MaskRcnnConfig, 'numClasses' | 'roiHeads'>, given: GivenNames = {}): readonly string[] | undefined {
  const k = config.numClasses;
  const kp = config.roiHeads.keypointBranch ? config.roiHeads.keypointPredictor.numKeypoints : 0;
  if (given.classNames?.length === k) return given.classNames;
  if (k === COCO_CATEGORIES.length) return COCO_CATEGORIES;
  if (k === COCO_PERSON_CATEGORIES.length && kp === COCO_PERSON_KEYPOINT_NAMES.length) return COCO_PERSON_CATEGORIES;
  if (k === FIGURE_CLASSES.length && kp === KEYPOINT_NAMES.length) return FIGURE_CLASSES;
  if (k === SCENE_CLASSES.length) return SCENE_CLASSES;
  return undefined;
}

/** Placeholder names for a model whose classes have none: "__background__", "class 1", … */
export function genericNames(numClasses: number): string[] {
  return Array.from({ length: numClasses }, (_, i) => (i === 0 ? '__background__' : `class ${i}`));
}

/**
 * One name per keypoint (empty without a keypoint branch). Given names must fit the model: a list
 * of another length is an error naming both counts (`source` says where the names came from).
 */
export function keypointNamesOf(config: Pick<MaskRcnnConfig, 'roiHeads'>, given: GivenNames = {}, source = 'about.json'): readonly string[] {
  if (!config.roiHeads.keypointBranch) return [];
  const kp = config.roiHeads.keypointPredictor.numKeypoints;
  if (given.keypointNames !== undefined) {
    if (given.keypointNames.length !== kp) {
      throw new NamesError(
        `${source} names ${given.keypointNames.length} keypoints (${given.keypointNames.slice(0, 4).join(', ')}${given.keypointNames.length > 4 ? ', …' : ''}), ` +
          `but the model predicts ${kp} (roi_heads.keypoint_predictor.kps_score_lowres has ${kp} output maps): fix keypointNames, or pick the checkpoint they belong to`,
      );
    }
    return given.keypointNames;
  }
  if (kp === COCO_PERSON_KEYPOINT_NAMES.length) return COCO_PERSON_KEYPOINT_NAMES;
  if (kp === KEYPOINT_NAMES.length) return KEYPOINT_NAMES;
  return Array.from({ length: kp }, (_, i) => `keypoint ${i}`);
}
