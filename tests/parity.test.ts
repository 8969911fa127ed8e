/**
 * End-to-end parity with torchvision: the same random-but-meaningful R50-FPN weights (built by
 * tests/oracle/model.py with a fixed seed and non-trivial FrozenBN statistics) and the same photo at
 * min_size 320; every stage dump of DESIGN.md §4 compared.
 *
 * Tolerances (the engine issue's): dense tensors within 1e-4 of each tensor's max |value|;
 * proposals and detections the same set (boxes within 0.01 px, same labels, scores within 1e-4);
 * mask IoU ≥ 0.99 at threshold 0.5.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeNpy } from '../src/io/npy.ts';
import { type DumpName, type MaskRcnn, type Trace, createMaskRcnn, runMaskRcnn } from '../src/model.ts';
import { useBackend } from '../src/node/backend.ts';
import type { RgbImage } from '../src/types.ts';
import { readCheckpoint } from '../src/weights/index.ts';
import { matchBoxes, maskIou, relativeError } from './support/compare.ts';
import { hasTorchvision, oracle } from './support/oracle.ts';

const PHOTO = join(import.meta.dirname, 'fixtures', 'photos', 'chelsea.jpg');
const DENSE: DumpName[] = [
  'input', 'fpn_0', 'fpn_1', 'fpn_2', 'fpn_3', 'fpn_pool',
  'rpn_objectness_0', 'rpn_objectness_1', 'rpn_objectness_2', 'rpn_objectness_3', 'rpn_objectness_4',
  'rpn_deltas_0', 'rpn_deltas_1', 'rpn_deltas_2', 'rpn_deltas_3', 'rpn_deltas_4',
];

/** 3×H×W float32 v/255 → the uint8 RGB image it came from. */
function imageFromNpy(nd: { shape: number[]; data: ArrayLike<number> }): RgbImage {
  const [c, height, width] = nd.shape as [number, number, number];
  expect(c).toBe(3);
  const data = new Uint8Array(width * height * 3);
  for (let ch = 0; ch < 3; ch++) {
    for (let i = 0; i < width * height; i++) data[i * 3 + ch] = Math.round(nd.data[ch * width * height + i]! * 255);
  }
  return { width, height, data };
}

describe.runIf(hasTorchvision())('Mask R-CNN R50-FPN matches torchvision maskrcnn_resnet50_fpn at every stage (min_size 320)', () => {
  let dir: string;
  let model: MaskRcnn;
  let trace: Trace;
  const ref = (name: string) => decodeNpy(readFileSync(join(dir, 'ref', `${name}.npy`)));
  const measured: Record<string, number> = {};

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parity-'));
    // Seed 1: with seed 0 one RPN NMS decision sits at an IoU within float32 noise of 0.7, so one of
    // the 1000 proposals legitimately differs (seeds 1–4 were checked: identical sets).
    oracle('model.py', ['build', '--out', dir, '--seed', '1', '--formats', 'zip,legacy,safetensors']);
    oracle('model.py', ['run', '--weights', join(dir, 'model.pth'), '--image', PHOTO, '--out', join(dir, 'ref'), '--config-json', '{"min_size": 320}']);
    await useBackend('wasm');
    const sd = readCheckpoint(new Uint8Array(readFileSync(join(dir, 'model.pth'))), 'model.pth');
    model = createMaskRcnn(sd, { transform: { minSize: 320 } });
    // The exact pixels torchvision saw (PIL's JPEG decoder; ours is tested against it separately).
    trace = await runMaskRcnn(model, imageFromNpy(ref('image')));
  });

  afterAll(() => {
    trace?.dispose();
    model?.dispose();
    console.log('[parity] measured', JSON.stringify(measured, null, 1));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reads the zip, legacy and safetensors checkpoints as identical state dicts', () => {
    const read = (f: string) => readCheckpoint(new Uint8Array(readFileSync(join(dir, f))), f);
    const zip = read('model.pth');
    for (const other of [read('model_legacy.pth'), read('model.safetensors')]) {
      expect([...other.keys()].sort()).toEqual([...zip.keys()].sort());
      for (const [name, t] of zip) {
        const o = other.get(name)!;
        expect(o.shape, name).toEqual(t.shape);
        expect(Buffer.from(o.data.buffer, o.data.byteOffset, o.data.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)), name).toBe(true);
      }
    }
  });

  it.each(DENSE)('dump %s is within 1e-4 of max |value| of torchvision', async (name) => {
    const ours = await trace.dump(name);
    const theirs = ref(name);
    expect(ours.shape).toEqual(theirs.shape);
    const { rel } = relativeError(ours.data, theirs.data);
    measured[name] = rel;
    expect(rel).toBeLessThan(1e-4);
  });

  it('proposals are the same set as torchvision (boxes within 0.01 px)', async () => {
    const ours = (await trace.dump('proposals')).data;
    const theirs = ref('proposals').data as Float32Array;
    expect(ours.length).toBe(theirs.length);
    const match = matchBoxes(ours, theirs, 0.01);
    const unmatched = match.filter((m) => m < 0).length;
    measured['proposals_unmatched'] = unmatched;
    measured['proposals_in_same_position'] = match.filter((m, i) => m === i).length / match.length;
    expect(unmatched).toBe(0);
  });

  it('class logits and box regression are within 1e-4 of max |value| of torchvision', async () => {
    for (const name of ['class_logits', 'box_regression'] as const) {
      const ours = await trace.dump(name);
      const theirs = ref(name);
      expect(ours.shape).toEqual(theirs.shape);
      // Rows follow the proposals; compare row by row through the proposal matching.
      const match = matchBoxes((await trace.dump('proposals')).data, ref('proposals').data as Float32Array, 0.01);
      const width = ours.shape[1]!;
      const permuted = new Float32Array(theirs.data.length);
      match.forEach((j, i) => permuted.set(ours.data.subarray(j * width, (j + 1) * width), i * width));
      const { rel } = relativeError(permuted, theirs.data);
      measured[name] = rel;
      expect(rel).toBeLessThan(1e-4);
    }
  });

  it('detections are the same set: boxes within 0.01 px, same labels, scores within 1e-4', async () => {
    const ours = await trace.dump('boxes');
    const theirs = ref('boxes');
    expect(theirs.shape[0]).toBeGreaterThan(0);
    expect(ours.shape).toEqual(theirs.shape);
    const match = matchBoxes(ours.data, theirs.data as Float32Array, 0.01);
    expect(match.filter((m) => m < 0).length).toBe(0);
    const labels = ref('labels').data;
    const scores = ref('scores').data;
    let maxScoreDiff = 0;
    match.forEach((j, i) => {
      expect(trace.result.labels[j]).toBe(labels[i]);
      maxScoreDiff = Math.max(maxScoreDiff, Math.abs(trace.result.scores[j]! - scores[i]!));
    });
    measured['detections'] = theirs.shape[0]!;
    measured['scores_max_abs_diff'] = maxScoreDiff;
    expect(maxScoreDiff).toBeLessThan(1e-4);
  });

  it('mask logits are within 1e-4 of max |value| and pasted masks have IoU ≥ 0.99 at 0.5', async () => {
    const match = matchBoxes((await trace.dump('boxes')).data, ref('boxes').data as Float32Array, 0.01);
    const logits = await trace.dump('mask_logits');
    const refLogits = ref('mask_logits');
    expect(logits.shape).toEqual(refLogits.shape);
    const per = logits.shape.slice(1).reduce((a, b) => a * b, 1);
    const permuted = new Float32Array(refLogits.data.length);
    match.forEach((j, i) => permuted.set(logits.data.subarray(j * per, (j + 1) * per), i * per));
    const { rel } = relativeError(permuted, refLogits.data);
    measured['mask_logits'] = rel;
    expect(rel).toBeLessThan(1e-4);

    const masks = await trace.dump('masks');
    const refMasks = ref('masks');
    expect(masks.shape).toEqual(refMasks.shape);
    const hw = masks.shape[2]! * masks.shape[3]!;
    let minIou = 1;
    match.forEach((j, i) => {
      minIou = Math.min(minIou, maskIou(masks.data.subarray(j * hw, (j + 1) * hw), refMasks.data.subarray(i * hw, (i + 1) * hw), 0.5));
    });
    measured['mask_min_iou'] = minIou;
    expect(minIou).toBeGreaterThanOrEqual(0.99);
  });

  it('leaves no tensor behind: disposing the trace returns tf.memory() to the model-only count', async () => {
    const before = tf.memory().numTensors;
    const again = await runMaskRcnn(model, trace.image);
    again.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
