/**
 * Parity of the convolutional stages (backbone, FPN, RPN head, box head, mask head) with
 * torchvision, on the wasm backend. tests/oracle/stages_net.py builds torchvision's MaskRCNN with
 * random weights (random FrozenBN statistics, non-zero biases), runs each stage and saves the state
 * dict + inputs + outputs; each of our stages is fed torchvision's input for that stage and must
 * match its output within 1e-4 · max|output|.
 */
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toConfig, type MaskRcnnConfig, type MaskRcnnSpec } from '../src/config.ts';
import { decodeNpy } from '../src/io/npy.ts';
import { loadResNet, resnetBody, type ResNet, type ResNetFeatures } from '../src/stages/backbone.ts';
import { fpn, loadFpn, type Fpn } from '../src/stages/fpn.ts';
import { loadRpnHead, rpnHead, type RpnHead } from '../src/stages/rpn_head.ts';
import { boxHead, loadBoxHead, type BoxHead } from '../src/stages/box_head.ts';
import { loadMaskHead, maskHead, type MaskHead } from '../src/stages/mask_head.ts';
import type { NamedTensor, NdArray, StateDict } from '../src/types.ts';
import { hasTorchvision, oracle } from './support/oracle.ts';

const REL_TOL = 1e-4;

/** A StateDict that records which names were read. */
class TrackingStateDict extends Map<string, NamedTensor> {
  readonly used = new Set<string>();
  override get(name: string): NamedTensor | undefined {
    this.used.add(name);
    return super.get(name);
  }
}

interface OracleRun {
  sd: TrackingStateDict;
  io: Map<string, NdArray>;
}

function runOracle(args: string[]): { dir: string; run: OracleRun } {
  const dir = mkdtempSync(join(tmpdir(), 'stages-net-'));
  oracle('stages_net.py', [dir, ...args]);
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { state_dict: string[]; io: string[] };
  const read = (sub: string, name: string) => decodeNpy(readFileSync(join(dir, sub, `${name}.npy`)));
  const sd = new TrackingStateDict();
  for (const name of manifest.state_dict) {
    const a = read('sd', name);
    sd.set(name, { shape: a.shape, dtype: 'float32', data: a.data as Float32Array });
  }
  const io = new Map<string, NdArray>();
  for (const name of manifest.io) {
    const a = read('io', name);
    io.set(name, { shape: a.shape, data: a.data as Float32Array });
  }
  return { dir, run: { sd, io } };
}

/** torch NCHW array → tfjs NHWC tensor. */
function nhwc(a: NdArray): tf.Tensor4D {
  return tf.tidy(() => tf.transpose(tf.tensor4d(a.data, a.shape as [number, number, number, number]), [0, 2, 3, 1]));
}

interface Measured {
  maxDiff: number;
  maxRef: number;
}

/** Compare our tensor (NHWC when rank 4) with torchvision's array (NCHW); returns the max |diff| and max |ref|. */
async function compare(name: string, ours: tf.Tensor, ref: NdArray): Promise<Measured> {
  const asTorch = ours.rank === 4 ? tf.transpose(ours, [0, 3, 1, 2]) : ours.clone();
  expect(asTorch.shape, `${name} shape`).toEqual(ref.shape);
  const data = await asTorch.data();
  asTorch.dispose();
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < ref.data.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(data[i]! - ref.data[i]!));
    maxRef = Math.max(maxRef, Math.abs(ref.data[i]!));
  }
  console.log(`[stages_net] ${name}: max|diff| = ${maxDiff.toExponential(2)}, max|ref| = ${maxRef.toPrecision(4)}, rel = ${(maxDiff / maxRef).toExponential(2)}`);
  expect(maxRef, `${name}: reference is all zeros, the test would prove nothing`).toBeGreaterThan(0);
  expect(maxDiff, `${name}: max |ours − torchvision| vs ${REL_TOL} · max|torchvision| = ${REL_TOL * maxRef}`).toBeLessThanOrEqual(REL_TOL * maxRef);
  return { maxDiff, maxRef };
}

interface Variant {
  title: string;
  args: string[];
  spec: MaskRcnnSpec;
}

const VARIANTS: Variant[] = [
  {
    title: 'R50-FPN torchvision defaults (91 classes), image 96×128',
    args: [],
    spec: {},
  },
  {
    title: 'R18 width 16, FPN 32, 6 anchors, 7 classes, mask layers [32, 24] dilation 2, odd image 97×131',
    args: [
      '--depth', '18', '--width', '16', '--fpn', '32', '--height', '97', '--image-width', '131', '--classes', '7',
      '--representation', '64', '--mask-layers', '32,24', '--dilation', '2', '--dim-reduced', '16', '--anchor-sizes', '2',
      '--box-rois', '4', '--mask-rois', '2',
    ],
    spec: {
      numClasses: 7,
      backbone: { depth: 18, baseWidth: 16 },
      fpn: { outChannels: 32 },
      anchors: { sizes: [[32, 64], [64, 128], [128, 256], [256, 512], [512, 1024]] },
      roiHeads: { boxHead: { representationSize: 64 }, maskHead: { layers: [32, 24], dilation: 2 }, maskPredictor: { dimReduced: 16 } },
    },
  },
];

for (const variant of VARIANTS) {
  describe.runIf(hasTorchvision())(`convolutional stages vs torchvision: ${variant.title}`, () => {
    let dir = '';
    let run: OracleRun;
    let cfg: MaskRcnnConfig;
    let resnet: ResNet;
    let fpnNet: Fpn;
    let rpn: RpnHead;
    let box: BoxHead;
    let mask: MaskHead;
    const io = (name: string): NdArray => {
      const a = run.io.get(name);
      if (!a) throw new Error(`oracle output ${name} missing`);
      return a;
    };
    const torchFeatures = (): ResNetFeatures => ({ c2: nhwc(io('c2')), c3: nhwc(io('c3')), c4: nhwc(io('c4')), c5: nhwc(io('c5')) });
    const torchPyramid = (): tf.Tensor4D[] => ['fpn_0', 'fpn_1', 'fpn_2', 'fpn_3', 'fpn_pool'].map((n) => nhwc(io(n)));

    beforeAll(async () => {
      await tf.setBackend('wasm');
      ({ dir, run } = runOracle(variant.args));
      cfg = toConfig(variant.spec);
      resnet = loadResNet(run.sd, cfg.backbone);
      fpnNet = loadFpn(run.sd, cfg);
      rpn = loadRpnHead(run.sd, cfg);
      box = loadBoxHead(run.sd, cfg);
      mask = loadMaskHead(run.sd, cfg);
    });

    afterAll(() => {
      for (const net of [resnet, fpnNet, rpn, box, mask]) net?.dispose();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('loadResNet, loadFpn, loadRpnHead, loadBoxHead and loadMaskHead read every tensor of torchvision MaskRCNN.state_dict()', () => {
      const unread = [...run.sd.keys()].filter((k) => !run.sd.used.has(k));
      expect(unread).toEqual([]);
    });

    it('resnetBody(loadResNet(sd, cfg.backbone), image) matches torchvision C2–C5', async () => {
      const image = nhwc(io('image'));
      const out = resnetBody(resnet, image);
      for (const k of ['c2', 'c3', 'c4', 'c5'] as const) await compare(k, out[k], io(k));
      tf.dispose([image, out.c2, out.c3, out.c4, out.c5]);
    });

    it('fpn(loadFpn(sd, cfg), torchvision C2–C5) matches torchvision P2–P5 and pool', async () => {
      const cs = torchFeatures();
      const ps = fpn(fpnNet, cs);
      const names = ['fpn_0', 'fpn_1', 'fpn_2', 'fpn_3', 'fpn_pool'];
      for (const [i, p] of ps.entries()) await compare(names[i]!, p, io(names[i]!));
      tf.dispose([...ps, cs.c2, cs.c3, cs.c4, cs.c5]);
    });

    it('fpn(resnetBody(image)) chained matches torchvision P2–P5 and pool', async () => {
      const image = nhwc(io('image'));
      const cs = resnetBody(resnet, image);
      const ps = fpn(fpnNet, cs);
      const names = ['fpn_0', 'fpn_1', 'fpn_2', 'fpn_3', 'fpn_pool'];
      for (const [i, p] of ps.entries()) await compare(`chained ${names[i]!}`, p, io(names[i]!));
      tf.dispose([image, ...ps, cs.c2, cs.c3, cs.c4, cs.c5]);
    });

    it('rpnHead(loadRpnHead(sd, cfg), torchvision pyramid) matches objectness [A] and deltas [4A] per level in torch channel order', async () => {
      const ps = torchPyramid();
      const { objectness, deltas } = rpnHead(rpn, ps);
      expect(objectness).toHaveLength(5);
      for (let i = 0; i < 5; i++) {
        await compare(`rpn_objectness_${i}`, objectness[i]!, io(`rpn_objectness_${i}`));
        await compare(`rpn_deltas_${i}`, deltas[i]!, io(`rpn_deltas_${i}`));
      }
      tf.dispose([...ps, ...objectness, ...deltas]);
    });

    it('boxHead(loadBoxHead(sd, cfg), pooled [K, 7, 7, C]) matches torchvision class_logits and box_regression', async () => {
      const pooled = nhwc(io('box_pooled'));
      const { classLogits, boxRegression } = boxHead(box, pooled);
      await compare('class_logits', classLogits, io('class_logits'));
      await compare('box_regression', boxRegression, io('box_regression'));
      tf.dispose([pooled, classLogits, boxRegression]);
    });

    it('maskHead(loadMaskHead(sd, cfg), pooled [K, 14, 14, C]) matches torchvision mask_logits [K, 28, 28, numClasses]', async () => {
      const pooled = nhwc(io('mask_pooled'));
      const logits = maskHead(mask, pooled);
      expect(logits.shape).toEqual([pooled.shape[0], 28, 28, cfg.numClasses]);
      await compare('mask_logits', logits, io('mask_logits'));
      tf.dispose([pooled, logits]);
    });

    it('resnetBody, fpn, rpnHead, boxHead and maskHead leave no tensors behind once their outputs are disposed', () => {
      const image = nhwc(io('image'));
      const boxPooled = nhwc(io('box_pooled'));
      const maskPooled = nhwc(io('mask_pooled'));
      const before = tf.memory().numTensors;
      const cs = resnetBody(resnet, image);
      expect(tf.memory().numTensors).toBe(before + 4);
      const ps = fpn(fpnNet, cs);
      expect(tf.memory().numTensors).toBe(before + 4 + 5);
      const r = rpnHead(rpn, ps);
      expect(tf.memory().numTensors).toBe(before + 4 + 5 + 10);
      const b = boxHead(box, boxPooled);
      const m = maskHead(mask, maskPooled);
      expect(tf.memory().numTensors).toBe(before + 4 + 5 + 10 + 3);
      tf.dispose([cs.c2, cs.c3, cs.c4, cs.c5, ...ps, ...r.objectness, ...r.deltas, b.classLogits, b.boxRegression, m]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([image, boxPooled, maskPooled]);
    });
  });
}
