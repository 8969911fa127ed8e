/**
 * Chapter 12 (ablation: RoIPool vs RoIAlign) without a browser: the build-time index of pooler models
 * (src/site/ablation_index.ts) on a temporary models folder; the scene scoring of src/site/ablation_view.ts
 * (mask IoU, COCO's greedy matching, the per-scene numbers) on hand-made masks; the live evaluation
 * giving AP 1 for the ground truth itself and 0 for nothing; the paper's Table 2c and RoIAlign's gain;
 * the shifted-square IoU by hand; the figures of src/viz/ablation.ts in a jsdom DOM; the controls
 * (model list, evaluation start/cancel); the runner on the real engine (tiny model, cpu: detections,
 * evaluation, abort, backend switch, no tensor left); and the notebook compiling with a cell for
 * every <Cell> of its page.
 *
 * jsdom has no 2D canvas: a stub stands in for the rasters.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JSDOM } from 'jsdom';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toConfig } from '../src/config.ts';
import { SCENE_CLASSES, generateScene } from '../src/data/scenes.ts';
import type { MaskRegion } from '../src/stages/paste.ts';
import { listPoolerModels, parseEvalReport, unequalStepsNote } from '../src/site/ablation_index.ts';
import {
  type DetectionSet, type GroundTruth, LiveEvaluation, PAPER_TABLE_2C, VAL, alignGain, boxIou, evaluationSeeds, maskIou,
  matchScene, ourRow, pickPoolerModels, regionArea, sceneId, sceneInput, scoreScene, seedOfImageId, shiftedSquareIou,
} from '../src/site/ablation_view.ts';
import { AbortedError, AblationRunner, type ModelStatus, scenePanelsFor } from '../src/site/ablation_runner.ts';
import { evaluationControl, modelStatusList } from '../src/site/ablation_controls.ts';
import type { LoadedWeights } from '../src/site/models.ts';
import { compileNotebook } from '../src/site/vite-notebooks.ts';
import {
  POOLER_COLORS, apBarsFigure, apTable, objectIouFigure, objectIouTable, sceneObjectsTable, scenePanelsFigure, sceneScoresTable, shiftIouFigure,
  shiftIouTable,
} from '../src/viz/ablation.ts';
import { categorical } from '../src/viz/colors.ts';
import { randomStateDict } from './support/random_weights.ts';
import { TINY } from './support/tiny.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

const Dom = JSDOM as unknown as new (html: string, options: { url: string }) => { window: Window & typeof globalThis };
const { window } = new Dom('<!doctype html><html><body></body></html>', { url: 'http://localhost/ablation/' });
for (const name of ['window', 'document', 'location', 'history', 'Node', 'Element', 'HTMLElement', 'HTMLInputElement', 'HTMLCanvasElement', 'SVGElement', 'Event', 'CustomEvent', 'XMLSerializer', 'Option', 'navigator'] as const) {
  Object.defineProperty(globalThis, name, { value: (window as unknown as Record<string, unknown>)[name], configurable: true, writable: true });
}
beforeAll(() => {
  (globalThis as unknown as { ImageData: unknown }).ImageData = class {
    constructor(readonly data: Uint8ClampedArray, readonly width: number, readonly height: number) {}
  };
  window.HTMLCanvasElement.prototype.getContext = function () {
    return { putImageData: () => {} };
  } as unknown as typeof HTMLCanvasElement.prototype.getContext;
  window.HTMLCanvasElement.prototype.toDataURL = () => 'data:image/png;base64,';
});

const rows = (t: HTMLTableElement) => [...t.tBodies[0]!.rows].map((r) => [...r.cells].map((c) => c.textContent));

/** A W×H mask with the rectangle [x0, x1) × [y0, y1) set. */
function rectMask(width: number, height: number, x0: number, y0: number, x1: number, y1: number): Uint8Array {
  const m = new Uint8Array(width * height);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m[y * width + x] = 1;
  return m;
}

/** A pasted-mask region covering [x0, x1) × [y0, y1) with probability p inside. */
function rectRegion(x0: number, y0: number, x1: number, y1: number, p = 0.9): MaskRegion {
  return { x0, y0, width: x1 - x0, height: y1 - y0, data: new Float32Array((x1 - x0) * (y1 - y0)).fill(p) };
}

function dets(list: Array<{ box: number[]; label: number; score: number; region: MaskRegion }>): DetectionSet {
  return {
    boxes: Float32Array.from(list.flatMap((d) => d.box)),
    labels: Int32Array.from(list.map((d) => d.label)),
    scores: Float32Array.from(list.map((d) => d.score)),
    masks: list.map((d) => d.region),
    maskThreshold: 0.5,
  };
}

// A 20×20 image with two objects of class 1: A = [0, 10) × [0, 10) (100 px), B = [10, 20) × [10, 20) (100 px).
const GT: GroundTruth = {
  width: 20,
  height: 20,
  objects: [
    { label: 1, mask: rectMask(20, 20, 0, 0, 10, 10), box: [0, 0, 10, 10], area: 100 },
    { label: 1, mask: rectMask(20, 20, 10, 10, 20, 20), box: [10, 10, 20, 20], area: 100 },
  ],
};

describe('build-time index of pooler models (ablation_index.ts)', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ablation-models-'));
    const model = (id: string, config: object, about: object, evalJson?: string) => {
      mkdirSync(join(dir, id));
      writeFileSync(join(dir, id, 'model.json'), JSON.stringify({ totalBytes: 10, config }));
      writeFileSync(join(dir, id, 'about.json'), JSON.stringify(about));
      if (evalJson !== undefined) writeFileSync(join(dir, id, 'eval.json'), evalJson);
    };
    const scene = (pooler: string) => ({ numClasses: 7, roiHeads: { boxRoiPool: { pooler }, maskRoiPool: { pooler } } });
    const report = { bbox: { AP: 0.5, AP50: 0.8, AP75: 0.55, APs: 0.3, APm: 0.5, APl: 0.7 }, segm: { AP: 0.45, AP50: 0.78, AP75: 0.48, APs: 0.2, APm: 0.5, APl: 0.6 }, images: 500, seeds: '1000000-1000499' };
    model('default', scene('roiAlign'), { label: 'RoIAlign model', order: 1, training: { steps: 9600 } }, JSON.stringify(report));
    model('roipool', scene('roiPool'), { label: 'RoIPool model', order: 2, training: { steps: 6000 } });
    model('roipool-old', scene('roiPool'), { label: 'older RoIPool', order: 5 }, '{"bbox": {"AP": 1}}');
    model('coco', { numClasses: 91 }, { label: 'COCO', order: 3 });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('listPoolerModels keeps the 7-class scene models in index order with their pooler, reads eval.json, notes a missing or broken one, and leaves the 91-class model out', () => {
    const warnings: string[] = [];
    const list = listPoolerModels(dir, (m) => warnings.push(m));
    expect(list.map((e) => [e.id, e.pooler, e.boxPooler])).toEqual([['default', 'roiAlign', 'roiAlign'], ['roipool', 'roiPool', 'roiPool'], ['roipool-old', 'roiPool', 'roiPool']]);
    expect(list[0]!.eval).toEqual({ bbox: { AP: 0.5, AP50: 0.8, AP75: 0.55, APs: 0.3, APm: 0.5, APl: 0.7 }, segm: { AP: 0.45, AP50: 0.78, AP75: 0.48, APs: 0.2, APm: 0.5, APl: 0.6 }, images: 500, seeds: '1000000-1000499' });
    expect(list[1]!.eval).toBeNull();
    expect(list[1]!.evalNote).toMatch(/no eval\.json in public\/models\/roipool\/ \(npm run eval -- --model roipool/);
    expect(list[2]!.eval).toBeNull();
    expect(list[2]!.evalNote).toMatch(/eval\.json is unreadable: "bbox\.AP50" is undefined/);
    expect(warnings.some((w) => w.includes('roipool-old'))).toBe(true);
    // One model per pooler, the first of the index's order, RoIPool first.
    expect(pickPoolerModels(list).map((e) => e.id)).toEqual(['roipool', 'default']);
    expect(list.map((e) => e.steps)).toEqual([9600, 6000, null]);
  });

  it('unequalStepsNote names each model’s steps when they differ, and is null when they agree or are unknown', () => {
    const list = listPoolerModels(dir, () => {});
    const picked = pickPoolerModels(list);
    expect(unequalStepsNote(picked)).toMatch(/not trained for the same number of steps \(roipool 6000, default 9600\)/);
    expect(unequalStepsNote(picked.map((e) => ({ ...e, steps: 6000 })))).toBeNull();
    expect(unequalStepsNote(picked.map((e, i) => ({ ...e, steps: i === 0 ? 6000 : null })))).toBeNull();
  });

  it('parseEvalReport refuses a missing segm, a non-number AP and a zero image count, saying which field', () => {
    const ok = { AP: 0, AP50: 0, AP75: 0, APs: -1, APm: 0, APl: 0 };
    expect(() => parseEvalReport({ bbox: ok, images: 3 })).toThrow(/"segm" is missing/);
    expect(() => parseEvalReport({ bbox: { ...ok, AP75: 'x' }, segm: ok, images: 3 })).toThrow(/"bbox\.AP75" is "x"/);
    expect(() => parseEvalReport({ bbox: ok, segm: ok, images: 0 })).toThrow(/"images" is 0/);
    expect(parseEvalReport({ bbox: ok, segm: ok, images: 3 }).images).toBe(3);
  });
});

describe('scene scoring (ablation_view.ts), by hand on 20×20 masks', () => {
  it('sceneId / seedOfImageId round-trip a seed; another image id gives null; sceneInput(seed) is that scene’s image', () => {
    expect(seedOfImageId(sceneId(1000007))).toBe(1000007);
    expect(seedOfImageId('sample:chelsea')).toBeNull();
    const input = sceneInput(VAL.first);
    expect(input.id).toBe('scene:1000000');
    expect(Array.from(input.image.data.subarray(0, 30))).toEqual(Array.from(generateScene(VAL.first).image.data.subarray(0, 30)));
  });

  it('maskIou of [2, 12)² (p 0.9) with A = [0, 10)²: 64 / (100 + 100 − 64); at threshold 0.95 the mask is empty → 0; regionArea clips to the image', () => {
    const r = rectRegion(2, 2, 12, 12);
    expect(maskIou(r, 0.5, GT.objects[0]!.mask, 20, 20, 100)).toBeCloseTo(64 / 136, 12);
    expect(maskIou(r, 0.95, GT.objects[0]!.mask, 20, 20, 100)).toBe(0);
    expect(regionArea(rectRegion(15, 15, 25, 25), 0.5, 20, 20)).toBe(25);
    expect(boxIou([0, 0, 10, 10], [5, 0, 15, 10])).toBeCloseTo(50 / 150, 12);
    expect(boxIou([0, 0, 0, 0], [0, 0, 0, 0])).toBe(0);
  });

  it('matchScene (COCO greedy): the higher score chooses first, takes its best object, the next takes what is left; another class and IoU < threshold match nothing', () => {
    const d = dets([
      { box: [0, 0, 10, 10], label: 1, score: 0.6, region: rectRegion(0, 0, 10, 10) }, // A exactly
      { box: [1, 0, 11, 10], label: 1, score: 0.9, region: rectRegion(1, 0, 11, 10) }, // A shifted 1 px: IoU 90/110
      { box: [10, 10, 20, 20], label: 2, score: 0.8, region: rectRegion(10, 10, 20, 20) }, // B's place, wrong class
      { box: [10, 10, 14, 20], label: 1, score: 0.7, region: rectRegion(10, 10, 14, 20) }, // 40 % of B: IoU 0.4
    ]);
    const m = matchScene(d, GT, 0.5);
    // Detection 1 (0.9) takes A although detection 0 fits it better; detection 0 then finds nothing left.
    expect(m.objects[0]!.detection).toBe(1);
    expect(m.objects[0]!.iou).toBeCloseTo(90 / 110, 12);
    expect(m.objects[0]!.boxIou).toBeCloseTo(90 / 110, 6);
    expect(m.objects[1]!.detection).toBe(-1);
    expect(m.detections).toEqual([-1, 0, -1, -1]);
    // At 0.3 detection 3 (IoU 0.4) takes B.
    expect(matchScene(d, GT, 0.3).detections).toEqual([-1, 0, -1, 1]);
    const s = scoreScene(d, GT);
    expect([s.objects, s.detections, s.found50, s.found75, s.falsePositives]).toEqual([2, 4, 1, 1, 3]);
    expect(s.meanMaskIou).toBeCloseTo(90 / 110, 12);
    expect(s.bestIou[0]).toBe(1);
    expect(s.bestIou[1]).toBeCloseTo(0.4, 12);
    // A detection at IoU 0.6 counts at 0.5 only.
    const loose = scoreScene(dets([{ box: [0, 0, 10, 6], label: 1, score: 0.9, region: rectRegion(0, 0, 10, 6) }]), GT);
    expect([loose.found50, loose.found75]).toEqual([1, 0]);
    expect(scoreScene(dets([]), GT).meanMaskIou).toBeNaN();
  });

  it('LiveEvaluation: the ground truth itself as detections scores box and mask AP = AP50 = AP75 = 1; no detection scores 0', () => {
    const live = new LiveEvaluation();
    for (const seed of [VAL.first, VAL.first + 1]) {
      const scene = generateScene(seed);
      live.addScene(scene);
      const { width, height } = scene.image;
      live.addDetections('perfect', seed, dets(scene.instances.map((o, i) => ({
        box: [...o.box], label: o.label, score: 1 - i / 100,
        region: { x0: 0, y0: 0, width, height, data: Float32Array.from(o.mask) },
      }))), height, width);
    }
    const perfect = live.evaluate('perfect');
    expect(perfect.images).toBe(2);
    for (const t of ['bbox', 'segm'] as const) for (const k of ['AP', 'AP50', 'AP75'] as const) expect(perfect[t][k], `${t} ${k}`).toBeCloseTo(1, 12);
    expect(live.evaluate('nothing').segm.AP).toBe(0);
  });

  it('shiftedSquareIou(4, 1) = 9 / 23 (3×3 overlap of two 4×4 squares); 0 shift → 1; a shift ≥ the side → 0', () => {
    expect(shiftedSquareIou(4, 1)).toBeCloseTo(9 / 23, 12);
    expect(shiftedSquareIou(16, 2)).toBeCloseTo(196 / 316, 12);
    expect(shiftedSquareIou(10, 0)).toBe(1);
    expect(shiftedSquareIou(10, 10)).toBe(0);
  });

  it('Table 2c: five rows; RoIAlign (avg) − RoIPool is +3.4 AP, +2.4 AP50, +5.1 AP75; ourRow turns 0–1 into percent; evaluationSeeds(3) are the split’s first three', () => {
    expect(PAPER_TABLE_2C.map((r) => `${r.pooler}/${r.aggregate}`)).toEqual(['roiPool/max', 'roiWarp/max', 'roiWarp/avg', 'roiAlign/max', 'roiAlign/avg']);
    const gain = alignGain(PAPER_TABLE_2C)!;
    expect(gain.AP).toBeCloseTo(3.4, 9);
    expect(gain.AP50).toBeCloseTo(2.4, 9);
    expect(gain.AP75).toBeCloseTo(5.1, 9);
    expect(alignGain(PAPER_TABLE_2C.filter((r) => r.pooler !== 'roiPool'))).toBeNull();
    const report = { bbox: { AP: 0.5, AP50: 0.75, AP75: 0.625, APs: 0, APm: 0, APl: 0 }, segm: { AP: 0.25, AP50: 0.5, AP75: 0.125, APs: 0, APm: 0, APl: 0 }, images: 9 };
    const row = ourRow('live', { id: 'roipool', pooler: 'roiPool' }, report);
    expect(row).toMatchObject({ source: 'live', pooler: 'roiPool', aggregate: 'max', mask: { AP: 25, AP50: 50, AP75: 12.5 }, box: { AP: 50, AP50: 75, AP75: 62.5 }, images: 9, modelId: 'roipool' });
    expect(evaluationSeeds(3)).toEqual([1000000, 1000001, 1000002]);
    expect(evaluationSeeds(10_000)).toHaveLength(500);
  });
});

describe('chapter 12 figures (src/viz/ablation.ts) in jsdom', () => {
  const image = { width: 20, height: 20, data: new Uint8Array(20 * 20 * 3).fill(100) };
  const a = dets([{ box: [0, 0, 10, 10], label: 1, score: 0.9, region: rectRegion(0, 0, 10, 10) }, { box: [14, 0, 20, 4], label: 1, score: 0.5, region: rectRegion(14, 0, 20, 4) }]);
  const p = dets([{ box: [10, 10, 20, 20], label: 1, score: 0.8, region: rectRegion(10, 10, 20, 20) }]);
  const panels = [
    { id: 'roipool', title: 'RoIPool model', pooler: 'roiPool' as const, detections: p, score: scoreScene(p, GT) },
    { id: 'default', title: 'RoIAlign model', pooler: 'roiAlign' as const, detections: a, score: scoreScene(a, GT) },
  ];
  const data = { image, objects: GT.objects, panels, classNames: SCENE_CLASSES, showGroundTruth: true, seed: 1000003 };

  it('scenePanelsFigure: a panel per model with its detections coloured by the object they matched (unmatched: grey, dashed), and a ground-truth panel when asked', () => {
    const svg = scenePanelsFigure(data);
    const modelPanels = svg.querySelectorAll('[data-panel="model"]');
    expect([...modelPanels].map((g) => [g.getAttribute('data-pooler'), g.getAttribute('data-detections'), g.getAttribute('data-mean-iou')])).toEqual([['roiPool', '1', '1.0000'], ['roiAlign', '2', '1.0000']]);
    const align = svg.querySelector('[data-model-id="default"]')!;
    const boxStroke = (d: number) => align.querySelectorAll(`[data-detection="${d}"] rect`)[1]!;
    expect(boxStroke(0).getAttribute('stroke')).toBe(categorical(0));
    expect(boxStroke(1).getAttribute('stroke')).toBe('#6b6b6b');
    expect(boxStroke(1).getAttribute('stroke-dasharray')).not.toBeNull();
    expect(svg.querySelector('[data-model-id="roipool"] [data-detection="0"]')!.getAttribute('data-object')).toBe('1');
    expect(svg.querySelectorAll('[data-panel="ground-truth"] rect[data-object]')).toHaveLength(2);
    expect(svg.querySelector('[data-model-id="roipool"]')!.textContent).toContain('found 1/2 at IoU ≥ 0.5, 1/2 at ≥ 0.75');
    expect(scenePanelsFigure({ ...data, showGroundTruth: false }).querySelector('[data-panel="ground-truth"]')).toBeNull();
    // A model that has not run says so.
    const waiting = scenePanelsFigure({ ...data, panels: [{ id: 'x', title: 'RoIWarp model', pooler: 'roiWarp', status: 'running…' }] });
    expect(waiting.querySelector('[data-panel="model"]')!.getAttribute('data-detections')).toBe('-1');
    expect(waiting.textContent).toContain('running…');
  });

  it('sceneObjectsTable lists each object with each model’s match; sceneScoresTable each model’s numbers', () => {
    expect(rows(sceneObjectsTable(data))).toEqual([
      ['1', 'circle', '100', 'missed', '0.00', '#1 (IoU 1.00)', '1.00'],
      ['2', 'circle', '100', '#1 (IoU 1.00)', '1.00', 'missed', '0.00'],
    ]);
    expect(rows(sceneScoresTable(panels))).toEqual([
      ['RoIPool model', 'RoIPool', '1', '2', '1', '1', '1.000', '1.000', '0'],
      ['RoIAlign model', 'RoIAlign', '2', '2', '1', '1', '1.000', '1.000', '1'],
    ]);
  });

  it('objectIouFigure: one marker per object and model (square RoIPool, circle RoIAlign) at its IoU, the 0.5 and 0.75 lines; objects by area', () => {
    const d = { objects: [{ label: 1, area: 300 }, { label: 2, area: 40 }], classNames: SCENE_CLASSES, series: [{ pooler: 'roiPool' as const, title: 'RoIPool model', bestIou: [0.8, 0.3] }, { pooler: 'roiAlign' as const, title: 'RoIAlign model', bestIou: [0.9, 0.6] }] };
    const svg = objectIouFigure(d);
    expect(svg.querySelectorAll('rect[data-object]')).toHaveLength(2);
    expect(svg.querySelectorAll('circle[data-object]')).toHaveLength(2);
    expect([...svg.querySelectorAll('[data-threshold]')].map((l) => l.getAttribute('data-threshold'))).toEqual(['0.5', '0.75']);
    // The smaller object (#2) is drawn left of the larger.
    const x = (obj: number) => Number(svg.querySelector(`circle[data-object="${obj}"]`)!.getAttribute('cx'));
    expect(x(1)).toBeLessThan(x(0));
    // Higher IoU is higher up.
    const y = (obj: number) => Number(svg.querySelector(`circle[data-object="${obj}"]`)!.getAttribute('cy'));
    expect(y(0)).toBeLessThan(y(1));
    expect(rows(objectIouTable(d))).toEqual([['2', 'square', '40', '0.300', '0.600'], ['1', 'circle', '300', '0.800', '0.900']]);
  });

  it('apTable: the paper’s five rows then ours, AP in percent, box AP “—” for the paper; apBarsFigure: a bar per pooler and metric (the paper’s max-pooling RoIWarp/RoIAlign left out) and RoIAlign’s gain', () => {
    const report = { bbox: { AP: 0.5, AP50: 0.8, AP75: 0.55, APs: 0, APm: 0, APl: 0 }, segm: { AP: 0.4, AP50: 0.7, AP75: 0.42, APs: 0, APm: 0, APl: 0 }, images: 500 };
    const ours = [ourRow('shipped', { id: 'roipool', pooler: 'roiPool' }, { ...report, segm: { ...report.segm, AP: 0.35, AP75: 0.3 } }), ourRow('shipped', { id: 'default', pooler: 'roiAlign' }, report)];
    const t = apTable([...PAPER_TABLE_2C, ...ours]);
    const r = rows(t);
    expect(r[0]).toEqual(['paper, Table 2c (COCO)', 'RoIPool', 'max', '26.9', '48.8', '26.4', '—', '—', '—', 'COCO minival']);
    expect(r[4]).toEqual(['paper, Table 2c (COCO)', 'RoIAlign', 'average', '30.3', '51.2', '31.5', '—', '—', '—', 'COCO minival']);
    expect(r[5]).toEqual(['our model, eval.json (roipool)', 'RoIPool', 'max', '35.0', '70.0', '30.0', '50.0', '80.0', '55.0', '500']);
    expect(t.querySelectorAll('tbody tr[data-source="paper"]')).toHaveLength(5);
    const svg = apBarsFigure([{ title: 'Paper', rows: PAPER_TABLE_2C, kind: 'mask' }, { title: 'Ours', rows: ours, kind: 'mask' }]);
    const paper = svg.querySelector('g[data-source="paper"]')!;
    expect(paper.querySelectorAll('rect[data-metric]')).toHaveLength(9);
    expect(paper.querySelector('rect[data-pooler="roiPool"][data-metric="AP75"]')!.getAttribute('fill')).toBe(POOLER_COLORS.roiPool);
    expect([...paper.querySelectorAll('[data-gain]')].map((g) => g.textContent)).toEqual(['+3.4', '+2.4', '+5.1']);
    const our = svg.querySelector('g[data-source="shipped"]')!;
    expect([...our.querySelectorAll('[data-gain]')].map((g) => g.textContent)).toEqual(['+5.0', '+0.0', '+12.0']);
  });

  it('shiftIouFigure: a 16-px object shifted 2 px keeps IoU 0.62 (AP50 only), a 128-px one 0.94 (AP75), a 16-px one shifted 8 px 0.14 (a miss)', () => {
    const d = { sizes: [16, 128], shifts: [2, 8], iou: shiftedSquareIou };
    const svg = shiftIouFigure(d);
    const band = (s: number, sh: number) => svg.querySelector(`rect[data-size="${s}"][data-shift="${sh}"]`)!.getAttribute('data-band');
    expect([band(16, 2), band(128, 2), band(16, 8), band(128, 8)]).toEqual(['pass50', 'pass75', 'fail', 'pass75']);
    expect(rows(shiftIouTable(d))).toEqual([['16×16 px', '0.620', '0.143'], ['128×128 px', '0.940', '0.784']]);
  });
});

describe('chapter 12 controls', () => {
  it('modelStatusList shows each model’s loading bytes with a progress bar, then “loaded” or the error', () => {
    let push: (s: ModelStatus[]) => void = () => {};
    const list = modelStatusList(
      [{ id: 'roipool', label: 'RoIPool model', pooler: 'roiPool', placeholder: true }, { id: 'default', label: 'RoIAlign model', pooler: 'roiAlign', placeholder: false }],
      (p) => p,
      (fn) => ((push = fn), () => {}),
    );
    push([{ id: 'roipool', phase: 'loading', loaded: 2 ** 20, total: 4 * 2 ** 20 }, { id: 'default', phase: 'ready' }]);
    const item = (id: string) => list.querySelector(`[data-model-id="${id}"]`)!;
    expect(item('roipool').textContent).toContain('loading 1.0 MB of 4.0 MB');
    expect(item('roipool').textContent).toContain('a placeholder');
    expect((item('roipool').querySelector('progress') as HTMLProgressElement).hidden).toBe(false);
    expect(item('default').textContent).toContain('loaded');
    push([{ id: 'roipool', phase: 'error', error: 'HTTP 404' }, { id: 'default', phase: 'ready' }]);
    expect(item('roipool').textContent).toContain('failed to load: HTTP 404');
    expect((item('roipool').querySelector('progress') as HTMLProgressElement).hidden).toBe(true);
  });

  it('evaluationControl: the button names n from the box, runs the evaluation with it, reports progress, then holds the result and fires input; Cancel aborts and keeps nothing', async () => {
    let resolveRun: (() => void) | undefined;
    const calls: number[] = [];
    const control = evaluationControl({
      value: 20,
      evaluate: (n, signal, onProgress) => {
        calls.push(n);
        onProgress(1, 2 * n);
        return new Promise((resolve, reject) => {
          signal.addEventListener('abort', () => reject(new AbortedError('cancelled')));
          resolveRun = () => resolve({ reports: new Map(), seeds: { first: VAL.first, last: VAL.first + n - 1 }, ms: 1500 });
        });
      },
    });
    document.body.append(control);
    const input = control.querySelector('input[type=number]') as HTMLInputElement;
    const [start, cancel] = [...control.querySelectorAll('button')];
    expect(control.querySelector('label')!.htmlFor).toBe(input.id);
    input.value = '3';
    input.dispatchEvent(new Event('input', { bubbles: true }));
    expect(start!.textContent).toBe('Evaluate 3 validation scenes here');
    expect(new URL(location.href).searchParams.get('n')).toBe('3');
    let fired = 0;
    control.addEventListener('input', () => fired++);
    start!.click();
    expect(calls).toEqual([3]);
    expect(start!.disabled).toBe(true);
    expect(control.querySelector('[role=status]')!.textContent).toMatch(/^1 of 6 runs \(3 scenes × 2 models\)/);
    resolveRun!();
    await new Promise((r) => setTimeout(r, 0));
    expect(fired).toBe(1);
    expect(control.value?.seeds).toEqual({ first: 1000000, last: 1000002 });
    expect(control.querySelector('[role=status]')!.textContent).toMatch(/^evaluated scenes 1000000–1000002 in 1\.5 s/);
    expect(start!.disabled).toBe(false);
    // Again, cancelled: the value stays the last finished one.
    start!.click();
    cancel!.click();
    await new Promise((r) => setTimeout(r, 0));
    expect(control.querySelector('[role=status]')!.textContent).toBe('cancelled; nothing was kept');
    expect(fired).toBe(1);
    expect(control.value?.seeds.last).toBe(1000002);
    control.remove();
  });
});

describe('AblationRunner on the engine (tiny model, cpu)', () => {
  const config = toConfig(TINY);
  const weightsOf = (id: string, seed: number): LoadedWeights => ({
    info: { id, label: id, placeholder: true, description: '', classNames: ['bg', 'a', 'b', 'c', 'd'] },
    stateDict: randomStateDict(config, seed),
    spec: TINY,
  });
  const entries = [
    { id: 'pool', label: 'pool', placeholder: true, pooler: 'roiPool' as const, boxPooler: 'roiPool' as const, steps: null, eval: null },
    { id: 'align', label: 'align', placeholder: true, pooler: 'roiAlign' as const, boxPooler: 'roiAlign' as const, steps: null, eval: null },
  ];

  it('run gives each model’s detections on a scene; evaluate(2 scenes) gives box and mask AP per model with progress; an aborted signal skips, also one aborted by a task during the evaluation; a backend switch rebuilds; dispose frees every tensor', async () => {
    await tf.setBackend('cpu');
    const before = tf.memory().numTensors;
    const loads: string[] = [];
    let backend = 'cpu';
    const runner = new AblationRunner(entries, {
      load: async (id, onProgress) => {
        loads.push(id);
        onProgress(5, 10);
        return weightsOf(id, id === 'pool' ? 1 : 2);
      },
      backend: () => backend,
    });
    const statuses: string[] = [];
    runner.onStatus((all) => statuses.push(all.map((s) => `${s.id}:${s.phase}`).join(',')));
    runner.offer(weightsOf('align', 2));
    try {
      const scene = generateScene(VAL.first);
      const [p, a] = await Promise.all([runner.run('pool', scene.image), runner.run('align', scene.image)]);
      // Only the model not offered was fetched.
      expect(loads).toEqual(['pool']);
      expect(statuses).toContain('pool:loading,align:ready');
      expect(statuses.at(-1)).toBe('pool:ready,align:ready');
      for (const d of [p, a]) {
        expect(d.boxes.length).toBe(4 * d.labels.length);
        expect(d.masks).toHaveLength(d.labels.length);
        expect(d.maskThreshold).toBe(0.5);
      }
      const withModels = tf.memory().numTensors;
      expect(withModels).toBeGreaterThan(before);

      const progress: string[] = [];
      const reports = await runner.evaluate(['pool', 'align'], [VAL.first, VAL.first + 1], { onProgress: (done, total) => progress.push(`${done}/${total}`) });
      expect(progress).toEqual(['0/4', '1/4', '2/4', '3/4', '4/4']);
      for (const id of ['pool', 'align']) {
        const r = reports.get(id)!;
        expect(r.images).toBe(2);
        for (const v of [r.bbox.AP, r.bbox.AP50, r.segm.AP, r.segm.AP75]) expect(v === -1 || (v >= 0 && v <= 1)).toBe(true);
      }
      expect(tf.memory().numTensors, 'runs leave no tensor').toBe(withModels);

      const stop = new AbortController();
      stop.abort();
      await expect(runner.run('pool', scene.image, stop.signal)).rejects.toBeInstanceOf(AbortedError);
      await expect(runner.evaluate(['pool'], [VAL.first], { signal: stop.signal })).rejects.toBeInstanceOf(AbortedError);
      // A cancel that arrives as a task (a click) is seen before the next run: runs give the event loop a turn.
      const later = new AbortController();
      const seen: string[] = [];
      setTimeout(() => later.abort(), 0);
      await expect(runner.evaluate(['pool', 'align'], [VAL.first, VAL.first + 1], { signal: later.signal, onProgress: (d, t) => seen.push(`${d}/${t}`) })).rejects.toBeInstanceOf(AbortedError);
      expect(seen).toEqual(['0/4']);

      // Another backend (as the runner sees it): the models are built again, the old ones freed.
      backend = 'cpu-2';
      const again = await runner.run('pool', scene.image);
      expect(Array.from(again.labels)).toEqual(Array.from(p.labels));
      expect(tf.memory().numTensors).toBeLessThan(withModels);
    } finally {
      await runner.dispose();
    }
    expect(tf.memory().numTensors, 'dispose frees the models').toBe(before);
    await expect(runner.run('pool', generateScene(VAL.first).image)).rejects.toBeInstanceOf(AbortedError);
  }, 120_000);

  it('scenePanelsFor: the session’s model comes from its trace without a run, the other from the runner; it yields as each finishes', async () => {
    const scene = generateScene(VAL.first + 2);
    const sessionDets = dets(scene.instances.map((o, i) => ({ box: [...o.box], label: o.label, score: 0.9 - i / 100, region: { x0: 0, y0: 0, width: 256, height: 256, data: Float32Array.from(o.mask) } })));
    const trace = { result: { boxes: sessionDets.boxes, labels: sessionDets.labels, scores: sessionDets.scores, masks: sessionDets.masks }, config: { roiHeads: { maskThreshold: 0.5 } } };
    const ran: string[] = [];
    const runner = { run: async (id: string) => (ran.push(id), dets([])) };
    const states = [];
    for await (const s of scenePanelsFor({ trace: trace as never, model: { id: 'align' }, image: { id: sceneId(VAL.first + 2) } }, entries, runner)) states.push(s);
    expect(ran).toEqual(['pool']);
    expect(states.map((s) => s.panels.map((p) => p.status ?? 'done'))).toEqual([['waiting to run…', 'done'], ['running…', 'done'], ['done', 'done']]);
    const last = states.at(-1)!;
    expect(last.done).toBe(true);
    expect(last.seed).toBe(VAL.first + 2);
    expect(last.panels[1]!.score!.found75).toBe(scene.instances.length);
    expect(last.panels[0]!.score!.found50).toBe(0);
    await expect(scenePanelsFor({ trace: trace as never, model: { id: 'x' }, image: { id: 'sample:cat' } }, entries, runner).next()).rejects.toThrow(/not a validation scene/);
  });
});

describe('chapter 12 notebook', () => {
  it('compileNotebook(notebooks/12-ablation.html) compiles, imports only src/, fetches nothing, and has a cell for every <Cell> of src/pages/ablation.astro', () => {
    const path = join(ROOT, 'notebooks', '12-ablation.html');
    const code = compileNotebook(readFileSync(path, 'utf8'), path);
    const slots = [...code.matchAll(/slot: "([^"]+)"/g)].map((m) => m[1]);
    const cells = [...readFileSync(join(ROOT, 'src/pages/ablation.astro'), 'utf8').matchAll(/<Cell name="([^"]+)"/g)].map((m) => m[1]);
    expect(cells.length).toBeGreaterThan(5);
    for (const name of cells) expect(slots, `<Cell name="${name}">`).toContain(name);
    // A cell shown under the name of something imported would redefine it (the runtime refuses).
    const imported = [...readFileSync(path, 'utf8').matchAll(/import \{([^}]+)\} from/g)].flatMap((m) => m[1]!.split(',').map((x) => x.trim()));
    for (const name of cells) expect(imported, `<Cell name="${name}"> is also an import`).not.toContain(name);
    expect(code).not.toMatch(/https?:\/\//);
    for (const m of code.matchAll(/import\("([^"]+)"\)/g)) expect(m[1]).toMatch(/^\.\.\/src\//);
  });
});
