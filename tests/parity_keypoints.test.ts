/**
 * Keypoint R-CNN parity with torchvision: keypointrcnn_resnet50_fpn's layout (KeypointRCNN, 2
 * classes, 17 keypoints, no mask branch) with calibrated random weights (tests/oracle/model.py
 * build --keypoints 17 --no-masks), the same photo at min_size 320, every stage compared. The
 * architecture is read from the checkpoint's shapes, as the site and the CLI do.
 *
 * Tolerances (issue 13): dense tensors and keypoint_logits within 1e-4 of each tensor's max |value|;
 * the same detections (boxes within 0.01 px, same labels, scores within 1e-4); keypoints within
 * 0.05 px, keypoint scores within 1e-4 of their range.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mergeSpecs } from '../src/config.ts';
import { decodeNpy } from '../src/io/npy.ts';
import { type DumpName, type MaskRcnn, type Trace, createMaskRcnn, dumpNamesOf, runMaskRcnn } from '../src/model.ts';
import { useBackend } from '../src/node/backend.ts';
import type { RgbImage } from '../src/types.ts';
import { readCheckpoint } from '../src/weights/index.ts';
import { inferArchitecture, shapesOf } from '../src/weights/infer_arch.ts';
import { matchBoxes, relativeError } from './support/compare.ts';
import { hasTorchvision, oracle } from './support/oracle.ts';

const PHOTO = join(import.meta.dirname, 'fixtures', 'photos', 'chelsea.jpg');
const DENSE: DumpName[] = ['input', 'fpn_0', 'fpn_1', 'fpn_2', 'fpn_3', 'fpn_pool', 'rpn_objectness_0', 'rpn_objectness_4', 'rpn_deltas_0', 'rpn_deltas_4'];

function imageFromNpy(nd: { shape: number[]; data: ArrayLike<number> }): RgbImage {
  const [, height, width] = nd.shape as [number, number, number];
  const data = new Uint8Array(width * height * 3);
  for (let ch = 0; ch < 3; ch++) for (let i = 0; i < width * height; i++) data[i * 3 + ch] = Math.round(nd.data[ch * width * height + i]! * 255);
  return { width, height, data };
}

describe.runIf(hasTorchvision())('Keypoint R-CNN R50-FPN matches torchvision keypointrcnn_resnet50_fpn at every stage (min_size 320)', () => {
  let dir: string;
  let model: MaskRcnn;
  let trace: Trace;
  let summary = '';
  const ref = (name: string) => decodeNpy(readFileSync(join(dir, 'ref', `${name}.npy`)));
  const measured: Record<string, number> = {};
  /** For each torchvision detection, ours (boxes within 0.01 px). */
  let match: Int32Array | number[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parity-kp-'));
    oracle('model.py', ['build', '--out', dir, '--seed', '1', '--num-classes', '2', '--keypoints', '17', '--no-masks', '--formats', 'zip', '--target-detections', '12']);
    oracle('model.py', ['run', '--weights', join(dir, 'model.pth'), '--image', PHOTO, '--out', join(dir, 'ref'), '--config-json', '{"min_size": 320}']);
    await useBackend('wasm');
    const sd = readCheckpoint(new Uint8Array(readFileSync(join(dir, 'model.pth'))), 'model.pth');
    const arch = inferArchitecture(shapesOf(sd));
    summary = arch.summary;
    // Random weights keep torchvision's FrozenBN eps 1e-5 (the shapes guess 0, as for the published COCO file).
    model = createMaskRcnn(sd, mergeSpecs(arch.spec, { transform: { minSize: 320 }, backbone: { frozenBnEps: 1e-5 } }));
    trace = await runMaskRcnn(model, imageFromNpy(ref('image')));
    match = matchBoxes((await trace.dump('boxes')).data, ref('boxes').data as Float32Array, 0.01);
  });

  afterAll(() => {
    trace?.dispose();
    model?.dispose();
    console.log('[parity keypoints] measured', JSON.stringify(measured, null, 1));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the architecture read from the checkpoint is torchvision\'s Keypoint R-CNN: 2 classes, 8 × 512 keypoint head, 17 keypoints, no mask branch', () => {
    expect(summary).toMatch(/ResNet-50.*2 classes.*keypoint head 8 × 512 → 17 keypoints/);
    expect(model.config.roiHeads.maskBranch).toBe(false);
    expect(dumpNamesOf(model.config)).toEqual([
      ...['input', 'fpn_0', 'fpn_1', 'fpn_2', 'fpn_3', 'fpn_pool'],
      ...[0, 1, 2, 3, 4].map((i) => `rpn_objectness_${i}`), ...[0, 1, 2, 3, 4].map((i) => `rpn_deltas_${i}`),
      'proposals', 'class_logits', 'box_regression', 'keypoint_logits', 'boxes', 'labels', 'scores', 'keypoints', 'keypoints_scores',
    ]);
  });

  it.each(DENSE)('dump %s is within 1e-4 of max |value| of torchvision', async (name) => {
    const ours = await trace.dump(name);
    const theirs = ref(name);
    expect(ours.shape).toEqual(theirs.shape);
    const { rel } = relativeError(ours.data, theirs.data);
    measured[name] = rel;
    expect(rel).toBeLessThan(1e-4);
  });

  it('proposals are the same set; detections the same (boxes within 0.01 px, labels, scores within 1e-4)', async () => {
    const proposals = matchBoxes((await trace.dump('proposals')).data, ref('proposals').data as Float32Array, 0.01);
    expect(proposals.filter((m) => m < 0).length).toBe(0);
    const theirs = ref('boxes');
    expect(theirs.shape[0]).toBeGreaterThan(5);
    expect(trace.result.labels.length).toBe(theirs.shape[0]);
    expect(Array.from(match).filter((m) => m < 0).length).toBe(0);
    const scores = ref('scores').data;
    let maxScoreDiff = 0;
    Array.from(match).forEach((j, i) => {
      expect(trace.result.labels[j]).toBe(Number(ref('labels').data[i]));
      maxScoreDiff = Math.max(maxScoreDiff, Math.abs(trace.result.scores[j]! - scores[i]!));
    });
    measured['detections'] = theirs.shape[0]!;
    measured['scores_max_abs_diff'] = maxScoreDiff;
    expect(maxScoreDiff).toBeLessThan(1e-4);
  });

  it('keypoint_logits (D × 17 × 56 × 56) are within 1e-4 of max |value| of torchvision', async () => {
    const ours = await trace.dump('keypoint_logits');
    const theirs = ref('keypoint_logits');
    expect(ours.shape).toEqual(theirs.shape);
    const per = ours.shape.slice(1).reduce((a, b) => a * b, 1);
    const permuted = new Float32Array(theirs.data.length);
    Array.from(match).forEach((j, i) => permuted.set(ours.data.subarray(j * per, (j + 1) * per), i * per));
    const { rel } = relativeError(permuted, theirs.data);
    measured['keypoint_logits'] = rel;
    expect(rel).toBeLessThan(1e-4);
  });

  it('keypoints (D × 17 × 3, original image) are within 0.05 px of torchvision\'s, visibility 1; keypoint scores within 1e-4 of their range', async () => {
    const ours = await trace.dump('keypoints');
    const theirs = ref('keypoints');
    expect(ours.shape).toEqual(theirs.shape);
    const ourScores = (await trace.dump('keypoints_scores')).data;
    const theirScores = ref('keypoints_scores').data;
    let maxPx = 0;
    let maxScore = 0;
    let range = 0;
    Array.from(match).forEach((j, i) => {
      for (let k = 0; k < 17; k++) {
        const a = (j * 17 + k) * 3;
        const b = (i * 17 + k) * 3;
        maxPx = Math.max(maxPx, Math.abs(ours.data[a]! - theirs.data[b]!), Math.abs(ours.data[a + 1]! - theirs.data[b + 1]!));
        expect(ours.data[a + 2]).toBe(theirs.data[b + 2]);
        maxScore = Math.max(maxScore, Math.abs(ourScores[j * 17 + k]! - theirScores[i * 17 + k]!));
        range = Math.max(range, Math.abs(theirScores[i * 17 + k]!));
      }
    });
    measured['keypoints_max_px'] = maxPx;
    measured['keypoint_scores_rel'] = maxScore / range;
    expect(maxPx).toBeLessThan(0.05);
    expect(maxScore / range).toBeLessThan(1e-4);
  });

  it('leaves no tensor behind', async () => {
    const before = tf.memory().numTensors;
    const again = await runMaskRcnn(model, trace.image);
    again.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
