/**
 * Backbone: torchvision ResNet (v1.5) body, outputs C2–C5 (the last map of layer1..layer4).
 *
 * Glossary
 *   stem     conv1 7×7 stride 2 pad 3 + FrozenBN + ReLU, then max pool 3×3 stride 2 pad 1
 *   C2..C5   outputs of layer1..layer4, strides 4, 8, 16, 32 of the input
 *   basic block   (depth 18/34) 3×3 conv (stride s) + BN + ReLU, 3×3 conv + BN, + identity, ReLU
 *   bottleneck    (depth 50/101/152) 1×1 + BN + ReLU, 3×3 (stride s, v1.5) + BN + ReLU,
 *                 1×1 (4× channels) + BN, + identity, ReLU
 *   downsample    1×1 conv (stride s) + BN on the identity path of a stage's first block, when the
 *                 stride or the channel count changes
 *   width    w = cfg.baseWidth (64): stem has w channels; stage k's 3×3 convs have w·2^(k−1)
 *
 * State dict names (torchvision, under `backbone.body.`): conv1, bn1,
 * layer{1..4}.{b}.conv{1,2,3}/bn{1,2,3}, layer{1..4}.0.downsample.{0 conv, 1 BN}.
 * Every FrozenBN is folded into the conv before it at load time.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackboneConfig } from '../config.ts';
import type { StateDict } from '../types.ts';
import { conv2d, disposeLayers, loadConv2dFrozenBn, type Conv2d } from './layers.ts';

const PREFIX = 'backbone.body.';

/** Blocks per stage (layer1..layer4) and block type, by depth (torchvision's table). */
const ARCH: Record<BackboneConfig['depth'], { blocks: [number, number, number, number]; bottleneck: boolean }> = {
  18: { blocks: [2, 2, 2, 2], bottleneck: false },
  34: { blocks: [3, 4, 6, 3], bottleneck: false },
  50: { blocks: [3, 4, 6, 3], bottleneck: true },
  101: { blocks: [3, 4, 23, 3], bottleneck: true },
  152: { blocks: [3, 8, 36, 3], bottleneck: true },
};

/** Channels of C2..C5 for a config: w·[1, 2, 4, 8]·expansion (expansion 4 for bottlenecks, 1 otherwise). */
export function resnetOutChannels(cfg: BackboneConfig): [number, number, number, number] {
  const arch = ARCH[cfg.depth];
  if (arch === undefined) throw new Error(`backbone.depth = ${cfg.depth}: expected 18, 34, 50, 101 or 152`);
  const e = arch.bottleneck ? 4 : 1;
  const w = cfg.baseWidth;
  return [w * e, 2 * w * e, 4 * w * e, 8 * w * e];
}

/** One residual block: `convs` in order (ReLU after all but the last), then + identity, ReLU. */
export interface ResBlock {
  convs: Conv2d[];
  downsample: Conv2d | null;
}

export interface ResNet {
  depth: BackboneConfig['depth'];
  stem: Conv2d;
  /** layer1..layer4 */
  stages: ResBlock[][];
  dispose(): void;
}

export interface ResNetFeatures {
  c2: tf.Tensor4D;
  c3: tf.Tensor4D;
  c4: tf.Tensor4D;
  c5: tf.Tensor4D;
}

/** Build the ResNet body's tfjs tensors from `backbone.body.*` (FrozenBN folded). */
export function loadResNet(sd: StateDict, cfg: BackboneConfig): ResNet {
  const arch = ARCH[cfg.depth];
  if (arch === undefined) throw new Error(`backbone.depth = ${cfg.depth}: expected 18, 34, 50, 101 or 152`);
  const eps = cfg.frozenBnEps;
  const w = cfg.baseWidth;
  const expansion = arch.bottleneck ? 4 : 1;
  const made: Conv2d[] = [];
  const convBn = (name: string, bn: string, inChannels: number, outChannels: number, kernel: number, stride: number): Conv2d => {
    const c = loadConv2dFrozenBn(sd, PREFIX + name, PREFIX + bn, { inChannels, outChannels, kernel, stride, pad: (kernel - 1) / 2 }, eps);
    made.push(c);
    return c;
  };
  try {
    const stem = convBn('conv1', 'bn1', 3, w, 7, 2);
    let inplanes = w;
    const stages: ResBlock[][] = [];
    for (let s = 0; s < 4; s++) {
      const planes = w * 2 ** s;
      const out = planes * expansion;
      const blocks: ResBlock[] = [];
      for (let b = 0; b < arch.blocks[s]!; b++) {
        const stride = s > 0 && b === 0 ? 2 : 1;
        const p = `layer${s + 1}.${b}.`;
        const convs = arch.bottleneck
          ? [
              convBn(`${p}conv1`, `${p}bn1`, inplanes, planes, 1, 1),
              convBn(`${p}conv2`, `${p}bn2`, planes, planes, 3, stride),
              convBn(`${p}conv3`, `${p}bn3`, planes, out, 1, 1),
            ]
          : [convBn(`${p}conv1`, `${p}bn1`, inplanes, planes, 3, stride), convBn(`${p}conv2`, `${p}bn2`, planes, planes, 3, 1)];
        const downsample = stride !== 1 || inplanes !== out ? convBn(`${p}downsample.0`, `${p}downsample.1`, inplanes, out, 1, stride) : null;
        blocks.push({ convs, downsample });
        inplanes = out;
      }
      stages.push(blocks);
    }
    return { depth: cfg.depth, stem, stages, dispose: () => disposeLayers(made) };
  } catch (e) {
    disposeLayers(made);
    throw e;
  }
}

function resBlock(block: ResBlock, x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    let y = x;
    block.convs.forEach((c, i) => {
      y = conv2d(c, y, i < block.convs.length - 1 ? 'relu' : 'linear');
    });
    const identity = block.downsample ? conv2d(block.downsample, x) : x;
    return tf.relu(tf.add(y, identity)) as tf.Tensor4D;
  });
}

/**
 * The ResNet body on a normalized image x [1, H, W, 3] → C2..C5, each [1, h, w, C] with
 * h = ⌊(H' − 1)/2^k⌋ + 1 as torch computes it. Returns new tensors (the caller disposes them).
 */
export function resnetBody(net: ResNet, x: tf.Tensor4D): ResNetFeatures {
  if (x.rank !== 4 || x.shape[3] !== 3) {
    throw new Error(`resnetBody: expected an NHWC image [1, H, W, 3], found [${x.shape.join(', ')}]`);
  }
  // torch max_pool2d(3, 2, padding=1) pads with −∞; tfjs pooling with an explicit numeric pad skips
  // the padded cells the same way (and the input is ≥ 0 after ReLU, so even 0-padding would agree).
  let y: tf.Tensor4D = tf.tidy(() => tf.maxPool(conv2d(net.stem, x, 'relu'), 3, 2, 1));
  const cs: tf.Tensor4D[] = [];
  for (const stage of net.stages) {
    for (const block of stage) {
      const input = y;
      y = resBlock(block, input);
      // Free each block's input as soon as it is used, except the stage outputs we return.
      if (!cs.includes(input)) input.dispose();
    }
    cs.push(y);
  }
  const [c2, c3, c4, c5] = cs as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
  return { c2, c3, c4, c5 };
}
