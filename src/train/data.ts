/**
 * Training data: synthetic scenes (src/data/scenes.ts) as samples with targets, and a batch as the
 * transform stage makes it (torchvision `GeneralizedRCNNTransform` in training: normalize, resize,
 * resize the boxes and masks too, pad every image to the batch's common size).
 *
 * Glossary
 *   sample     one image with its gt: boxes [x1, y1, x2, y2] (pixels of that image), labels (class
 *              index, 1 … K), masks (G planes), and for Keypoint R-CNN keypoints (G × K × 3 [x, y, v],
 *              src/data/figures.ts)
 *   scene seed the index of a training scene: step s, image j of a batch of B uses scene
 *              firstSeed + ((s·B + j) mod count) of the seed range [firstSeed, firstSeed + count)
 */
import { type FiguresOptions, type FiguresScene, KEYPOINT_NAMES, generateFigures } from '../data/figures.ts';
import { generateScene, type Scene, type SceneOptions } from '../data/scenes.ts';
import type { TransformConfig } from '../config.ts';
import { nearestIndices } from '../stages/fpn.ts';
import { resizeBoxes, transformPixels } from '../stages/transform.ts';
import { resizeKeypoints } from '../geometry/keypoints.ts';
import type { Boxes, RgbImage, Size } from '../types.ts';
import type { GtMasks } from './targets.ts';

export interface TrainSample {
  image: RgbImage;
  boxes: Boxes;
  labels: Int32Array;
  masks: GtMasks;
  /** Keypoint R-CNN only: G × K × 3 [x, y, v] in pixels of the image (v: 0 not labelled, 1 occluded, 2 visible) */
  keypoints?: Float32Array;
}

/** A generated scene as a training sample (every instance; a scene with none is all background). */
export function sceneToSample(scene: Pick<Scene, 'image' | 'instances'>): TrainSample {
  const { width, height } = scene.image;
  const g = scene.instances.length;
  const boxes = new Float32Array(4 * g);
  const labels = new Int32Array(g);
  const data = new Uint8Array(g * width * height);
  scene.instances.forEach((inst, i) => {
    boxes.set(inst.box, 4 * i);
    labels[i] = inst.label;
    data.set(inst.mask, i * width * height);
  });
  return { image: scene.image, boxes, labels, masks: { count: g, height, width, data } };
}

/** The training scene of a sample index: seeds cycle through [firstSeed, firstSeed + count). */
export function trainScene(index: number, seeds: { first: number; count: number }, options: SceneOptions = {}): Scene {
  return generateScene(seeds.first + (index % seeds.count), options);
}

/** A generated figures image as a training sample: `sceneToSample` plus every figure's keypoints (G × K × 3). */
export function figuresToSample(scene: FiguresScene): TrainSample {
  const k3 = 3 * KEYPOINT_NAMES.length;
  const keypoints = new Float32Array(scene.instances.length * k3);
  scene.instances.forEach((inst, i) => keypoints.set(inst.keypoints, i * k3));
  return { ...sceneToSample(scene), keypoints };
}

/** The training figures image of a sample index: seeds cycle through [firstSeed, firstSeed + count), as `trainScene`. */
export function trainFigures(index: number, seeds: { first: number; count: number }, options: FiguresOptions = {}): FiguresScene {
  return generateFigures(seeds.first + (index % seeds.count), options);
}

/** Nearest resize of every mask plane (torch `interpolate(mode='nearest')`, as torchvision resizes masks). */
export function resizeMasks(masks: GtMasks, size: Size): GtMasks {
  const [h, w] = size;
  if (h === masks.height && w === masks.width) return masks;
  const rows = nearestIndices(masks.height, h);
  const cols = nearestIndices(masks.width, w);
  const data = new Uint8Array(masks.count * h * w);
  for (let g = 0; g < masks.count; g++) {
    const src = g * masks.height * masks.width;
    const dst = g * h * w;
    for (let y = 0; y < h; y++) {
      const row = src + rows[y]! * masks.width;
      for (let x = 0; x < w; x++) data[dst + y * w + x] = masks.data[row + cols[x]!]!;
    }
  }
  return { count: masks.count, height: h, width: w, data };
}

/** One image's gt in resized-image coordinates. */
export interface ImageTargets {
  boxes: Boxes;
  labels: Int32Array;
  masks: GtMasks;
  /** G × K × 3 keypoints (Keypoint R-CNN samples only) */
  keypoints?: Float32Array;
}

export interface PreparedBatch {
  /** B · Hp · Wp · 3 normalized pixels, NHWC, zero padded */
  pixels: Float32Array;
  /** [B, Hp, Wp, 3] */
  shape: [number, number, number, number];
  /** per image: resized size before padding (torchvision `image_sizes`) */
  imageSizes: Size[];
  gt: ImageTargets[];
}

/** Normalize, resize and pad every sample like the transform stage; gt resized alongside. */
export function prepareBatch(samples: readonly TrainSample[], cfg: TransformConfig): PreparedBatch {
  if (samples.length === 0) throw new Error('prepareBatch: expected at least one sample');
  const each = samples.map((s) => transformPixels(s.image, cfg));
  const hp = Math.max(...each.map((e) => e.paddedSize[0]));
  const wp = Math.max(...each.map((e) => e.paddedSize[1]));
  const pixels = new Float32Array(samples.length * hp * wp * 3);
  each.forEach((e, b) => {
    const [h, w] = e.paddedSize;
    for (let y = 0; y < h; y++) pixels.set(e.pixels.subarray(y * w * 3, (y + 1) * w * 3), ((b * hp + y) * wp) * 3);
  });
  const gt = samples.map((s, b) => {
    const e = each[b]!;
    const original: Size = [s.image.height, s.image.width];
    const same = e.imageSize[0] === original[0] && e.imageSize[1] === original[1];
    return {
      boxes: same ? s.boxes : resizeBoxes(s.boxes, original, e.imageSize),
      labels: s.labels,
      masks: resizeMasks(s.masks, e.imageSize),
      // torchvision's transform resizes keypoints with resize_keypoints (v kept)
      ...(s.keypoints ? { keypoints: same ? s.keypoints : resizeKeypoints(s.keypoints, original, e.imageSize) } : {}),
    };
  });
  return { pixels, shape: [samples.length, hp, wp, 3], imageSizes: each.map((e) => e.imageSize), gt };
}
