/** A tiny ResNet-18-FPN config and a structured random image: the engine's plumbing in seconds. */
import type { MaskRcnnSpec } from '../../src/config.ts';
import type { RgbImage } from '../../src/types.ts';
import { rng } from './random_weights.ts';

export const TINY: MaskRcnnSpec = {
  numClasses: 5,
  transform: { minSize: 96, maxSize: 128 },
  backbone: { depth: 18, baseWidth: 8 },
  fpn: { outChannels: 16 },
  rpn: { preNmsTopN: 200, postNmsTopN: 100 },
  roiHeads: {
    boxHead: { representationSize: 32 },
    maskHead: { layers: [16, 16] },
    maskPredictor: { dimReduced: 16 },
    postprocess: { detectionsPerImg: 20 },
  },
};

export function randomImage(width: number, height: number, seed = 1): RgbImage {
  const rand = rng(seed);
  const data = new Uint8Array(width * height * 3);
  // Smooth blobs plus noise: gives the random backbone some structure to respond to.
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        const v = 128 + 90 * Math.sin((x * (c + 1)) / 9) * Math.cos(y / (7 + c)) + 30 * (rand() - 0.5);
        data[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return { width, height, data };
}

/** The tiny training model (64×64 scenes, the scenes' 7 classes): a training step takes well under a second on wasm. */
export const TINY_TRAIN: MaskRcnnSpec = {
  numClasses: 7,
  transform: { minSize: 64, maxSize: 64 },
  backbone: { depth: 18, baseWidth: 8 },
  fpn: { outChannels: 16 },
  anchors: { sizes: [[8], [16], [32], [64], [128]] },
  rpn: { preNmsTopN: 200, postNmsTopN: 100, train: { preNmsTopN: 200, postNmsTopN: 100 } },
  roiHeads: {
    boxRoiPool: { canonicalScale: 56 },
    maskRoiPool: { canonicalScale: 56 },
    boxHead: { representationSize: 32 },
    maskHead: { layers: [16, 16] },
    maskPredictor: { dimReduced: 16 },
    postprocess: { detectionsPerImg: 20 },
    train: { batchSizePerImage: 64 },
  },
};
