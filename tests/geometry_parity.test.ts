/**
 * Geometry against torchvision: seeded random cases from tests/oracle/geometry_cases.py, exchanged
 * as .npy. Indices and labels must be identical (ties included); boxes within 1e-4 px. Where the
 * oracle's torch runs the AVX2 kernels we reproduce, float32 results must be bit-identical.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../src/config.ts';
import {
  BoxCoder,
  batchedNms,
  expf,
  filterProposals,
  gridAnchors,
  inferScale,
  mapLevels,
  nms,
  postprocessDetections,
  sigmoidf32,
  softmaxRowsf32,
} from '../src/geometry/index.ts';
import { decodeNpy } from '../src/io/npy.ts';
import type { Size } from '../src/types.ts';
import { hasTorchvision, oracle } from './support/oracle.ts';

interface Manifest {
  cases: Record<string, Record<string, unknown>>;
  capability: string | null;
}

let dir = '';
let manifest: Manifest;

function f32(c: string, name: string): Float32Array {
  const a = decodeNpy(readFileSync(join(dir, `${c}__${name}.npy`)));
  if (a.dtype !== 'float32') throw new Error(`${c}__${name}: expected float32, found ${a.dtype}`);
  return a.data as Float32Array;
}

function ints(c: string, name: string): number[] {
  return Array.from(decodeNpy(readFileSync(join(dir, `${c}__${name}.npy`))).data);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const exact = () => manifest.capability === 'AVX2';

describe.runIf(hasTorchvision())('geometry parity with torchvision', () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'geometry-'));
    manifest = JSON.parse(oracle('geometry_cases.py', [dir, process.env['GEOMETRY_SEED'] ?? '0'])) as Manifest;
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const params = (c: string) => manifest.cases[c]!;

  it.each(['nms_a', 'nms_b', 'nms_c'])('nms(%s) keeps the same indices in the same order as torchvision.ops.nms', (c) => {
    const keep = nms(f32(c, 'boxes'), f32(c, 'scores'), params(c)['iouThreshold'] as number);
    expect(Array.from(keep)).toEqual(ints(c, 'keep'));
  });

  it.each(['bnms_trick', 'bnms_loop', 'bnms_loop_distinct'])(
    'batchedNms(%s) keeps the same indices in the same order as torchvision.ops.batched_nms',
    (c) => {
      const keep = batchedNms(f32(c, 'boxes'), f32(c, 'scores'), Int32Array.from(ints(c, 'groups')), params(c)['iouThreshold'] as number);
      expect(Array.from(keep)).toEqual(ints(c, 'keep'));
    },
  );

  it.each(['anchors_fpn', 'anchors_odd'])('gridAnchors(%s) equals torchvision AnchorGenerator per level', (c) => {
    const p = params(c);
    const features = p['features'] as Size[];
    const { anchors } = gridAnchors(p['padded'] as Size, features, {
      sizes: p['sizes'] as number[][],
      aspectRatios: p['aspectRatios'] as number[],
    });
    features.forEach((_, l) => expect(Array.from(anchors[l]!)).toEqual(Array.from(f32(c, `anchors_${l}`))));
  });

  it.each(['decode_rpn', 'decode_head'])('BoxCoder.decodePerClass(%s) matches torchvision BoxCoder.decode', (c) => {
    const p = params(c);
    const coder = new BoxCoder(p['weights'] as [number, number, number, number]);
    const out = coder.decodePerClass(f32(c, 'deltas'), f32(c, 'ref'), p['classes'] as number);
    const ref = f32(c, 'boxes');
    expect(maxAbsDiff(out, ref)).toBeLessThanOrEqual(1e-4);
    if (exact()) expect(Array.from(out)).toEqual(Array.from(ref));
  });

  it('mapLevels equals torchvision LevelMapper(2, 5) and inferScale equals _infer_scale', () => {
    const levels = mapLevels(f32('levels', 'boxes'), { canonicalScale: 224, canonicalLevel: 4, kMin: 2, kMax: 5 });
    expect(Array.from(levels)).toEqual(ints('levels', 'levels'));
    for (const [feature, image, scale] of params('levels')['scales'] as [Size, Size, number][]) {
      expect(inferScale(feature, image)).toBe(scale);
    }
  });

  it.each(['rpn_a', 'rpn_b', 'rpn_c'])(
    'filterProposals(%s) returns torchvision filter_proposals boxes and scores, in order',
    (c) => {
      const p = params(c);
      const features = p['features'] as Size[];
      const cfg = {
        ...defaultConfig().rpn,
        preNmsTopN: p['preNmsTopN'] as number,
        postNmsTopN: p['postNmsTopN'] as number,
        nmsThresh: p['nmsThresh'] as number,
        scoreThresh: p['scoreThresh'] as number,
        minSize: p['minSize'] as number,
      };
      const { anchors } = gridAnchors(p['padded'] as Size, features, defaultConfig().anchors);
      const out = filterProposals(
        features.map((_, l) => f32(c, `objectness_${l}`)),
        features.map((_, l) => f32(c, `deltas_${l}`)),
        anchors,
        p['image'] as Size,
        cfg,
      );
      const refBoxes = f32(c, 'boxes');
      const refScores = f32(c, 'scores');
      expect(out.scores.length).toBe(refScores.length);
      expect(maxAbsDiff(out.boxes, refBoxes)).toBeLessThanOrEqual(1e-4);
      expect(maxAbsDiff(out.scores, refScores)).toBeLessThanOrEqual(1e-6);
      if (exact()) {
        expect(Array.from(out.boxes)).toEqual(Array.from(refBoxes));
        expect(Array.from(out.scores)).toEqual(Array.from(refScores));
      }
      // the intermediates agree with the output
      expect(Array.from(out.keep.map((k) => out.candidates.levels[k]!))).toEqual(Array.from(out.levels));
    },
  );

  it.each(['det_a', 'det_b', 'det_ties'])(
    'postprocessDetections(%s) returns torchvision postprocess_detections boxes, scores and labels, in order',
    (c) => {
      const p = params(c);
      const k = p['classes'] as number;
      const proposals = f32(c, 'proposals');
      const out = postprocessDetections(
        f32(c, 'logits'),
        f32(c, 'regression'),
        proposals,
        p['image'] as Size,
        k,
        { scoreThresh: 0.05, nmsThresh: 0.5, detectionsPerImg: 100, minSize: 1e-2 },
        new BoxCoder([10, 10, 5, 5]),
      );
      expect(Array.from(out.labels)).toEqual(ints(c, 'labels'));
      expect(maxAbsDiff(out.boxes, f32(c, 'boxes'))).toBeLessThanOrEqual(1e-4);
      expect(maxAbsDiff(out.scores, f32(c, 'scores'))).toBeLessThanOrEqual(1e-6);
      if (exact()) {
        expect(Array.from(out.boxes)).toEqual(Array.from(f32(c, 'boxes')));
        expect(Array.from(out.scores)).toEqual(Array.from(f32(c, 'scores')));
      }
      // proposalIndex points at a RoI whose class probability is the detection's score
      out.proposalIndex.forEach((roi, d) => expect(out.classProbs[roi * k + out.labels[d]!]).toBe(out.scores[d]));
    },
  );

  it('expf, sigmoidf32 and softmaxRowsf32 match torch.exp, torch.sigmoid and torch.softmax', () => {
    const x = f32('float32', 'x');
    const e = f32('float32', 'exp');
    const s = f32('float32', 'sigmoid');
    const ours = Float32Array.from(x, expf);
    const sig = sigmoidf32(x);
    let worst = 0;
    for (let i = 0; i < x.length; i++) {
      if (Number.isFinite(e[i]!)) worst = Math.max(worst, Math.abs(ours[i]! - e[i]!) / Math.max(e[i]!, 1e-30));
    }
    expect(worst).toBeLessThanOrEqual(2.5e-7); // ≤ 2 ulp anywhere
    expect(maxAbsDiff(sig, s)).toBeLessThanOrEqual(1.2e-7);
    for (const dim of params('float32')['softmaxDims'] as number[]) {
      const probs = softmaxRowsf32(f32('float32', `logits_${dim}`), dim);
      const ref = f32('float32', `softmax_${dim}`);
      expect(maxAbsDiff(probs, ref)).toBeLessThanOrEqual(1e-6);
      if (exact()) expect(Array.from(probs)).toEqual(Array.from(ref));
    }
    if (exact()) {
      expect(Array.from(ours)).toEqual(Array.from(e));
      expect(Array.from(sig)).toEqual(Array.from(s));
    }
  });
});
