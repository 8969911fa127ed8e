/**
 * Chapter 11 (training) without a browser: the loss-curve figure's arithmetic (ticks, smoothing,
 * thinning, end-of-training levels) with hand-computed values and its SVG in a jsdom DOM (one panel
 * per term, a series' points, the level lines at their height), its table and the losses.json reader;
 * the ground-truth figure and the side-by-side composition; the page logic of src/site/train_view.ts
 * (training source, backend gate, learning-rate box and URL, panel buttons, progress line); the
 * notebook compiling with a cell for every <Cell> of src/pages/training.astro; and the live trainer
 * itself on wasm with a tiny 64×64 model: Start runs its steps and snapshots, Stop takes effect
 * between steps, Resume continues the same session (a stopped-and-resumed run equals an uninterrupted
 * one loss for loss), a backend switch or a reset frees every tensor.
 *
 * jsdom has no 2D canvas: a stub records the RGBA pixels each raster would have become.
 */
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JSDOM } from 'jsdom';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type MaskRcnnSpec, toConfig } from '../src/config.ts';
import { SCENE_CLASSES, generateScene } from '../src/data/scenes.ts';
import { useBackend } from '../src/node/backend.ts';
import { compileNotebook } from '../src/site/vite-notebooks.ts';
import { LiveTrainer, type TrainSource, type TrainerState, TrainerError, checkSettings, liveOptimizerConfig, sceneCompatibility } from '../src/site/live_trainer.ts';
import {
  backendProblem, confidentDetections, defaultLr, detectionCount, formatDuration, sceneRole, liveCurves, numberParam, progressLine, readCurveIndex, sideBySide, trainPanel, trainSource,
} from '../src/site/train_view.ts';
import type { LoadedWeights } from '../src/site/models.ts';
import { categorical, hexToRgb } from '../src/viz/colors.ts';
import {
  LOSS_TERMS, type LossPoint, emaSmooth, everyKth, finalLevels, formatTick, lossCurvesFigure, lossCurvesTable, niceTicks, parseLossLog, thinPairs,
} from '../src/viz/loss_curves.ts';
import { groundTruthFigure, groundTruthTable } from '../src/viz/ground_truth.ts';
import { learningRate } from '../src/train/optimizer.ts';
import { TINY_TRAIN } from './support/tiny.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Every raster a figure made (canvas putImageData), in order. */
let rasters: { width: number; height: number; data: Uint8ClampedArray }[] = [];

const Dom = JSDOM as unknown as new (html: string, options: { url: string }) => { window: Window & typeof globalThis };

beforeAll(async () => {
  // wasm first: its loader decides Node vs web by the globals jsdom is about to add.
  await useBackend('wasm');
  const { window } = new Dom('<!doctype html><html><body></body></html>', { url: 'http://localhost/training/' });
  for (const name of ['window', 'document', 'location', 'history', 'Node', 'Element', 'HTMLElement', 'HTMLInputElement', 'HTMLCanvasElement', 'SVGElement', 'Event', 'CustomEvent', 'XMLSerializer', 'Option'] as const) {
    Object.defineProperty(globalThis, name, { value: (window as unknown as Record<string, unknown>)[name], configurable: true, writable: true });
  }
  class FakeImageData {
    constructor(
      readonly data: Uint8ClampedArray,
      readonly width: number,
      readonly height: number,
    ) {}
  }
  (globalThis as unknown as { ImageData: unknown }).ImageData = FakeImageData;
  window.HTMLCanvasElement.prototype.getContext = function () {
    return { putImageData: (img: FakeImageData) => rasters.push({ width: img.width, height: img.height, data: new Uint8ClampedArray(img.data) }) };
  } as unknown as typeof HTMLCanvasElement.prototype.getContext;
  window.HTMLCanvasElement.prototype.toDataURL = () => 'data:image/png;base64,';
}, 60_000);
afterEach(() => {
  rasters = [];
});

const rows = (t: HTMLTableElement) => [...t.tBodies[0]!.rows].map((r) => [...r.cells].map((c) => c.textContent));
const point = (step: number, v: number): LossPoint => ({ step, total: 5 * v, rpnObjectness: v, rpnBox: v / 10, classifier: v, boxReg: v, mask: v, lr: 1e-3 });

describe('loss-curve arithmetic', () => {
  it('niceTicks(lo, hi, n) gives round steps of 1, 2 or 5 × 10^k covering [lo, hi]', () => {
    expect(niceTicks(0, 1, 4)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]); // raw 0.25 → 0.2
    expect(niceTicks(0, 2.3, 3)).toEqual([0, 1, 2]); // raw 0.77 → 1
    expect(niceTicks(0, 4000, 4)).toEqual([0, 1000, 2000, 3000, 4000]);
    expect(niceTicks(0, 2, 3)).toEqual([0, 0.5, 1, 1.5, 2]); // raw 0.67 → 0.5
    expect(niceTicks(3, 17, 3)).toEqual([5, 10, 15]);
    expect(niceTicks(3, 3)).toEqual([3]);
    expect(niceTicks(0, Number.NaN)).toEqual([]);
  });

  it('formatTick writes 0, 3 significant digits, and exponents below 0.01 without trailing zeros', () => {
    expect(formatTick(0)).toBe('0');
    expect(formatTick(0.5)).toBe('0.5');
    expect(formatTick(1200)).toBe('1200');
    expect(formatTick(0.30000000000000004)).toBe('0.3');
    expect(formatTick(0.001)).toBe('1e-3');
    expect(formatTick(0.00025)).toBe('2.5e-4');
  });

  it('emaSmooth(values, β) is the debiased moving average: a constant stays, [0, 10] at β 0.5 → [0, 20/3]; β 0 returns the values', () => {
    expect(emaSmooth([1, 1, 1], 0.9).map((v) => Number(v.toFixed(12)))).toEqual([1, 1, 1]);
    const s = emaSmooth([0, 10], 0.5); // s1 = 0 → 0/0.5; s2 = 0.5·0 + 0.5·10 = 5 → 5/0.75
    expect(s[0]).toBe(0);
    expect(s[1]).toBeCloseTo(20 / 3, 12);
    expect(emaSmooth([3, 1], 0)).toEqual([3, 1]);
    expect(emaSmooth([2, Number.NaN, 2], 0.5)[1]).toBeCloseTo(2, 12);
  });

  it('thinPairs(10 pairs, 5) averages consecutive pairs; ≤ max pairs are returned as they are', () => {
    const pairs = Array.from({ length: 10 }, (_, i) => [i, 10 * i] as const);
    expect(thinPairs(pairs, 5)).toEqual([[0.5, 5], [2.5, 25], [4.5, 45], [6.5, 65], [8.5, 85]]);
    expect(thinPairs(pairs.slice(0, 3), 5)).toEqual([[0, 0], [1, 10], [2, 20]]);
  });

  it('finalLevels(points, 100) is the mean of the last 100 points per term; everyKth(10, 4) keeps every 3rd and the last', () => {
    const points = Array.from({ length: 200 }, (_, i) => ({ step: i, total: i + 1 }));
    expect(finalLevels(points, 100).total).toBe(150.5); // mean of 101 … 200
    expect(finalLevels(points, 100).mask).toBeUndefined();
    expect(everyKth(10, 4)).toEqual([0, 3, 6, 9]);
    expect(everyKth(3, 4)).toEqual([0, 1, 2]);
  });

  it('parseLossLog reads {"points": […]} and a bare array; refuses a missing list, a point without a step and a non-numeric term, saying what it expected', () => {
    const json = { points: [{ step: 0, total: 2.5, rpnObjectness: 0.7, rpnBox: 0.1, classifier: 1.2, boxReg: 0.3, mask: 0.2, lr: 1e-6 }, { step: 1, total: 2.4 }] };
    expect(parseLossLog(json)).toEqual(json.points);
    expect(parseLossLog([{ step: 3, mask: 0.5, gradNorm: 2 }])).toEqual([{ step: 3, mask: 0.5 }]);
    expect(() => parseLossLog({ steps: [] })).toThrow(/expected \{"points": \[\{"step": 0.*found an object with keys steps/);
    expect(() => parseLossLog({ points: [{ total: 1 }] })).toThrow(/point 0 should be an object with a numeric "step"/);
    expect(() => parseLossLog({ points: [{ step: 0, mask: 'x' }] })).toThrow(/point 0 \(step 0\) has mask = "x", expected a number/);
  });
});

describe('lossCurvesFigure and lossCurvesTable', () => {
  const yours = { id: 'yours', label: 'your run', points: [point(0, 1), point(1, 0.5), point(2, 0.25)] };
  const shipped = { id: 'shipped', label: 'shipped', points: Array.from({ length: 50 }, (_, i) => point(i, 2 - i / 50)), dashed: true };

  it('draws one panel per term (six by default), each series with its point count in range; a short series also as dots; the second series dashed', () => {
    const svg = lossCurvesFigure([yours, shipped], { xDomain: [0, 9] });
    expect([...svg.querySelectorAll('[data-term]')].map((g) => g.getAttribute('data-term'))).toEqual([...LOSS_TERMS]);
    const mask = svg.querySelector('[data-term="mask"]')!;
    expect(mask.querySelector('[data-series="yours"]')!.getAttribute('data-points')).toBe('3');
    expect(mask.querySelectorAll('[data-series="yours"] circle')).toHaveLength(3);
    // Steps 0 … 9 of the shipped run are in the domain, the other 40 are left out.
    expect(mask.querySelector('[data-series="shipped"]')!.getAttribute('data-points')).toBe('10');
    expect(mask.querySelector('[data-series="shipped"] path')!.getAttribute('stroke-dasharray')).toBe('6 4');
    expect(mask.querySelector('[data-series="yours"] path')!.getAttribute('stroke-dasharray')).toBeNull();
    expect(svg.querySelector('title')!.textContent).toMatch(/Training losses/);
    expect([...svg.querySelectorAll('[data-legend]')].map((g) => g.textContent)).toEqual(['your run', 'shipped']);
  });

  it('puts x at the step and y from 0 at the bottom to the top tick at the top (hand-computed panel geometry)', () => {
    // Panel: 150 high, top 20, bottom 26 → y(0) = 124, y(ymax) = 20; width 720/3 = 240, left 46, right 10 → x from 46 to 230.
    const svg = lossCurvesFigure([{ id: 'a', label: 'a', points: [{ step: 0, mask: 0 }, { step: 4, mask: 2 }] }], { terms: ['mask'], columns: 1, width: 240, xDomain: [0, 4] });
    const dots = [...svg.querySelectorAll('[data-series="a"] circle')].map((c) => [Number(c.getAttribute('cx')), Number(c.getAttribute('cy'))]);
    // ticks of [0, 2] are 0, 0.5, …, 2 → ymax 2
    expect(dots).toEqual([[46, 124], [230, 20]]);
    expect(svg.querySelector('[data-series="a"] path')!.getAttribute('d')).toBe('M46.0,124.0 L230.0,20.0');
  });

  it('draws a level as a dotted line at its value, counting toward the y range; a single point is a dot without a path', () => {
    const svg = lossCurvesFigure([{ id: 'one', label: 'one', points: [{ step: 0, total: 1 }] }], { terms: ['total'], columns: 1, width: 240, xDomain: [0, 10], levels: [{ id: 'end', label: 'end', values: { total: 2 } }] });
    const line = svg.querySelector('[data-level="end"]')!;
    expect(Number(line.getAttribute('y1'))).toBe(20); // 2 is the top tick
    expect(line.getAttribute('stroke-dasharray')).toBe('2 3');
    expect(svg.querySelectorAll('[data-series="one"] path')).toHaveLength(0);
    const dot = svg.querySelector('[data-series="one"] circle')!;
    expect(Number(dot.getAttribute('cy'))).toBe(72); // 124 − 104/2
  });

  it('a long series is drawn as at most maxPoints bucket means, its raw count still reported', () => {
    const long = { id: 'long', label: 'long', points: Array.from({ length: 1000 }, (_, i) => ({ step: i, total: 1 })) };
    const svg = lossCurvesFigure([long], { terms: ['total'], maxPoints: 100 });
    const g = svg.querySelector('[data-series="long"]')!;
    expect(g.getAttribute('data-points')).toBe('1000');
    expect(g.querySelector('path')!.getAttribute('d')!.split(' ')).toHaveLength(100);
    expect(g.querySelectorAll('circle')).toHaveLength(0);
  });

  it('lossCurvesTable lists raw values per series and step (smoothing ignored), thins long runs to every k-th step and the last, and lists levels', () => {
    const t = lossCurvesTable([{ ...yours, smooth: 0.9 }], { terms: ['total', 'mask'], levels: [{ id: 'l', label: 'end', values: { total: 3 } }] });
    expect([...t.tHead!.rows[0]!.cells].map((c) => c.textContent)).toEqual(['run', 'step', 'Total loss L', 'Mask Lmask']);
    expect(rows(t)).toEqual([
      ['your run', '0', '5.0000', '1.0000'],
      ['your run', '1', '2.5000', '0.5000'],
      ['your run', '2', '1.2500', '0.2500'],
      ['end', '—', '3.0000', '—'],
    ]);
    const long = lossCurvesTable([{ id: 'x', label: 'x', points: Array.from({ length: 10 }, (_, i) => ({ step: i, lr: 1e-3 })) }], { terms: ['lr'], maxRows: 4 });
    expect(rows(long).map((r) => r[1])).toEqual(['0', '3', '6', '9']);
    expect(rows(long)[0]![2]).toBe('1.00e-3');
    expect(long.caption!.textContent).toMatch(/every k-th step/);
  });
});

describe('ground truth and side-by-side figures', () => {
  const scene = generateScene(1_000_000, { width: 64, height: 64 });

  it('groundTruthFigure draws each instance (box, class name) and one mask layer in the instance colours; the table lists class, box and area', () => {
    const data = { image: scene.image, instances: scene.instances, classNames: SCENE_CLASSES };
    const svg = groundTruthFigure(data);
    expect(svg.querySelectorAll('[data-instance]')).toHaveLength(scene.instances.length);
    expect([...svg.querySelectorAll('[data-instance] text')].map((t) => t.textContent)).toEqual(scene.instances.map((i) => SCENE_CLASSES[i.label]));
    const rect = svg.querySelector('[data-instance="0"] rect')!;
    const b = scene.instances[0]!.box;
    expect([rect.getAttribute('x'), rect.getAttribute('y'), rect.getAttribute('width'), rect.getAttribute('height')].map(Number)).toEqual([b[0], b[1], b[2] - b[0], b[3] - b[1]]);
    // Rasters: the image, then the mask layer; a pixel of instance 0 that no later instance covers has its colour.
    expect(rasters).toHaveLength(2);
    const layer = rasters[1]!;
    const n = 64 * 64;
    const p = [...Array(n).keys()].find((q) => scene.instances[0]!.mask[q] && scene.instances.every((inst, i) => i === 0 || !inst.mask[q]))!;
    expect([...layer.data.subarray(4 * p, 4 * p + 4)]).toEqual([...hexToRgb(categorical(0)), 130]);
    const empty = [...Array(n).keys()].find((q) => scene.instances.every((inst) => !inst.mask[q]))!;
    expect(layer.data[4 * empty + 3]).toBe(0);
    const t = groundTruthTable(data);
    expect(rows(t)[0]).toEqual(['1', SCENE_CLASSES[scene.instances[0]!.label], b.join(', '), String(scene.instances[0]!.area)]);
  });

  it('sideBySide puts panels of 256 px at x = 0, 268, … under their titles, scaled to the panel width, with one title for the whole', () => {
    const a = groundTruthFigure({ image: scene.image, instances: [], classNames: SCENE_CLASSES });
    const b = groundTruthFigure({ image: { width: 128, height: 64, data: new Uint8Array(128 * 64 * 3) }, instances: [], classNames: SCENE_CLASSES });
    const svg = sideBySide([{ title: 'A', svg: a }, { title: 'B', svg: b }], { title: 'both' });
    expect(svg.getAttribute('viewBox')).toBe('0 0 524 276'); // 2·256 + 12; 20 + 256
    const inner = [...svg.querySelectorAll('svg')];
    expect(inner.map((s) => [s.getAttribute('x'), s.getAttribute('width'), s.getAttribute('height')])).toEqual([['0', '256', '256'], ['268', '256', '128']]);
    expect(svg.querySelectorAll('title')).toHaveLength(1);
    expect([...svg.querySelectorAll('[data-panel] > text')].map((t) => t.textContent)).toEqual(['A', 'B']);
  });
});

describe('chapter 11 page logic (src/site/train_view.ts)', () => {
  const weights = (numClasses: number): LoadedWeights => ({
    info: { id: 'm', label: 'Model M', placeholder: false, description: '', classNames: Array.from({ length: numClasses }, (_, i) => `c${i}`) },
    stateDict: new Map(),
    spec: { numClasses },
  });

  it('trainSource: random → the recipe’s 7-class config with seed 0; the model in use when it has the scenes’ 7 classes; else (or none loaded) a problem naming why', () => {
    const r = trainSource('random', null);
    expect(r.source?.kind).toBe('random');
    expect(r.source?.config.numClasses).toBe(SCENE_CLASSES.length);
    expect(r.source?.config.backbone.depth).toBe(18);
    const m = trainSource('model', weights(7));
    expect(m.source).toMatchObject({ kind: 'model', id: 'm', label: 'Model M' });
    expect(m.classNames[3]).toBe('c3');
    expect(trainSource('model', weights(5)).problem).toMatch(/Model M, cannot train on the scenes: it has 5 classes and the training scenes have 7/);
    expect(trainSource('model', null).problem).toMatch(/no model is loaded yet/);
  });

  it('backendProblem: WebGPU, wasm and cpu train; WebGL is refused naming the RoIAlign gradient; the default lr is 1e-4 to fine-tune, 1e-3 from scratch', () => {
    expect(backendProblem('webgpu')).toBeNull();
    expect(backendProblem('wasm')).toBeNull();
    expect(backendProblem('webgl')).toMatch(/needs WebGPU or WebAssembly.*WebGL.*no gradient for the RoIAlign kernel/);
    expect(backendProblem(undefined)).toMatch(/still starting/);
    expect(defaultLr('model')).toBe(1e-4);
    expect(defaultLr('random')).toBe(1e-3);
  });

  it('numberParam reads ?lr=, fires input only for a valid entry (which it writes to the URL), and says why it keeps the old value otherwise', () => {
    history.replaceState(null, '', '/training/?lr=0.0005');
    const box = numberParam('lr', [1e-6, 0.1], { label: 'Learning rate', value: 1e-3 });
    expect(box.value).toBe(0.0005);
    const input = box.querySelector('input')!;
    expect(box.querySelector('label')!.htmlFor).toBe(input.id);
    let events = 0;
    box.addEventListener('input', () => events++);
    input.value = '2';
    input.dispatchEvent(new Event('input', { bubbles: true }));
    expect(events).toBe(0);
    expect(box.value).toBe(0.0005);
    expect(box.querySelector('.control-help')!.textContent).toMatch(/expected a number from 0.000001 to 0.1; still using 0.0005/);
    expect(input.getAttribute('aria-invalid')).toBe('true');
    input.value = '0.002';
    input.dispatchEvent(new Event('input', { bubbles: true }));
    expect(events).toBe(1);
    expect(box.value).toBe(0.002);
    expect(new URL(location.href).searchParams.get('lr')).toBe('0.002');
    input.value = '0.001'; // the default: removed from the URL
    input.dispatchEvent(new Event('input', { bubbles: true }));
    expect(new URL(location.href).searchParams.get('lr')).toBeNull();
    history.replaceState(null, '', '/training/');
  });

  it('formatDuration and progressLine: step, images/s, the ETA while running, the last loss', () => {
    expect(formatDuration(4_400)).toBe('4 s');
    expect(formatDuration(125_000)).toBe('2 min 05 s');
    expect(formatDuration(3_725_000)).toBe('1 h 02 min');
    const s = { step: 3, target: 10, phase: 'running', imagesPerSecond: 0.5, etaMs: 28_000, points: [{ step: 2, total: 1.23456 }] } as unknown as TrainerState;
    expect(progressLine(s)).toBe('step 3 · 0.50 images/s · about 28 s left of 10 steps · last loss 1.235');
    expect(progressLine({ ...s, phase: 'stopped' })).toBe('step 3 · 0.50 images/s · last loss 1.235');
  });

  it('liveCurves: from a random init the shipped run’s first steps share the axis; from the model its end level is a line; no log → your run alone', () => {
    const shipped = { id: 'default', points: Array.from({ length: 300 }, (_, i) => ({ step: i, total: i < 200 ? 9 : 1 })) };
    const state = { points: [{ step: 0, total: 3 }], step: 1, target: 20, source: { kind: 'random', label: 'r' } } as unknown as TrainerState;
    const r = liveCurves(state, shipped, 'random');
    expect(r.xDomain).toEqual([0, 20]);
    expect(r.series.map((s) => [s.id, s.points.length])).toEqual([['yours', 1], ['shipped', 21]]);
    const m = liveCurves({ ...state, source: { kind: 'model', label: 'm' } } as TrainerState, shipped, 'random');
    expect(m.series.map((s) => s.id)).toEqual(['yours']);
    expect(m.levels[0]!.values.total).toBe(1); // the last 100 steps
    // Before a session exists the choice decides.
    expect(liveCurves({ ...state, source: undefined } as TrainerState, shipped, 'model').levels).toHaveLength(1);
    expect(liveCurves(state, null, 'random')).toMatchObject({ levels: [], note: '' });
  });

  it('confidentDetections keeps the leading detections with score ≥ 0.3, at most 20, and counts them all; sceneRole says which image the scene figure shows', () => {
    const d = {
      image: { width: 4, height: 4, data: new Uint8Array(48) },
      boxes: Float32Array.from({ length: 16 }, (_, i) => i),
      labels: Int32Array.from([1, 2, 3, 4]),
      scores: Float32Array.from([0.9, 0.5, 0.3, 0.29]),
      masks: [0, 1, 2, 3].map((i) => ({ x0: i, y0: 0, width: 1, height: 1, data: new Float32Array(1) })),
      classNames: SCENE_CLASSES,
    };
    const c = confidentDetections(d);
    expect(Array.from(c.labels)).toEqual([1, 2, 3]);
    expect(Array.from(c.boxes)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(c.masks.map((m) => m.x0)).toEqual([0, 1, 2]);
    expect(detectionCount(c)).toBe('3 detections with score ≥ 0.3 (of 4)');
    expect(confidentDetections(d, 0.3, 1).labels).toEqual(Int32Array.from([1]));
    expect(detectionCount(confidentDetections(d, 0.95))).toBe('0 detections with score ≥ 0.95 (of 4)');
    expect(sceneRole({ phase: 'running', hasSession: true })).toBe('the first image of the step being computed');
    expect(sceneRole({ phase: 'stopped', hasSession: true })).toBe('the first image of the last step');
    expect(sceneRole({ phase: 'idle', hasSession: false })).toBe('the first image the first step will see');
  });

  it('readCurveIndex reads the build’s {id: path} script and is {} without one', () => {
    expect(readCurveIndex()).toEqual({});
    const s = document.body.appendChild(document.createElement('script'));
    s.type = 'application/json';
    s.id = 'training-curves';
    s.textContent = '{"default": "models/default/losses.json"}';
    expect(readCurveIndex()).toEqual({ default: 'models/default/losses.json' });
    s.remove();
  });

  it('trainPanel: Start alone enabled at first; on WebGL a message and two switch buttons (Start disabled); a source problem disables Start and says why', () => {
    const trainer = new LiveTrainer({ scene: { width: 64, height: 64 }, validate: false });
    const source = trainSource('random', null);
    const settings = { lr: 1e-3, batch: 1, steps: 2 };
    const asked: string[] = [];
    const enabled = (p: HTMLElement) => [...p.querySelectorAll<HTMLButtonElement>('[data-action]')].filter((b) => !b.disabled).map((b) => b.dataset['action']);
    const ok = trainPanel({ trainer, choice: source, settings, backend: 'wasm', useBackend: (b) => asked.push(b) });
    expect(enabled(ok)).toEqual(['start']);
    expect(ok.querySelector('.train-gate')).toBeNull();
    expect(ok.dataset['phase']).toBe('idle');
    ok.dispose();
    const gl = trainPanel({ trainer, choice: source, settings, backend: 'webgl', useBackend: (b) => asked.push(b) });
    expect(enabled(gl)).toEqual([]);
    expect(gl.querySelector('.train-gate')!.textContent).toMatch(/needs WebGPU or WebAssembly/);
    gl.querySelector<HTMLButtonElement>('[data-use-backend="wasm"]')!.click();
    gl.querySelector<HTMLButtonElement>('[data-use-backend="webgpu"]')!.click();
    expect(asked).toEqual(['wasm', 'webgpu']);
    gl.dispose();
    const bad = trainPanel({ trainer, choice: trainSource('model', null), settings, backend: 'wasm', useBackend: () => {} });
    expect(enabled(bad)).toEqual([]);
    expect(bad.querySelector('.train-status')!.textContent).toMatch(/Can't train: no model is loaded yet/);
    bad.dispose();
  });

  it('compileNotebook(notebooks/11-training.html) compiles, imports only src/, and has a cell for every <Cell> of src/pages/training.astro', () => {
    const path = join(ROOT, 'notebooks/11-training.html');
    const code = compileNotebook(readFileSync(path, 'utf8'), path);
    const slots = [...code.matchAll(/slot: "([^"]+)"/g)].map((m) => m[1]);
    const cells = [...readFileSync(join(ROOT, 'src/pages/training.astro'), 'utf8').matchAll(/<Cell name="([^"]+)"/g)].map((m) => m[1]);
    expect(cells.length).toBeGreaterThan(8);
    for (const name of cells) expect(slots, `<Cell name="${name}">`).toContain(name);
    for (const m of code.matchAll(/import\("([^"]+)"\)/g)) expect(m[1]).toMatch(/^\.\.\/src\//);
    expect(code).not.toMatch(/https?:\/\//);
    // No cell reads its own output (the runtime's "circular definition").
    for (const m of code.matchAll(/inputs: (\[[^\]]*\]),\n\s+outputs: \[[^\]]*\],\n\s+output: "([^"]+)"/g)) expect(JSON.parse(m[1]!), `cell ${m[2]}`).not.toContain(m[2]);
  });
});


describe('LiveTrainer on wasm (tiny model, 64×64 scenes)', () => {
  const config = toConfig(TINY_TRAIN);
  const random: TrainSource = { kind: 'random', label: 'tiny random', config, seed: 5 };
  const settings = (steps: number, batch = 1) => ({ lr: 1e-3, batch, steps });
  const make = (validate = false) => new LiveTrainer({ scene: { width: 64, height: 64 }, validate });
  const losses = (s: TrainerState) => s.points.map((p) => [p.step, p.total]);

  it('checkSettings, sceneCompatibility and the constant-lr AdamW of a live run', () => {
    expect(() => checkSettings({ lr: 0, batch: 1, steps: 1 })).toThrow(TrainerError);
    expect(() => checkSettings({ lr: 1e-3, batch: 1.5, steps: 1 })).toThrow(/batch size 1.5: expected a whole number from 1 to 16/);
    expect(() => checkSettings({ lr: 1e-3, batch: 1, steps: 0 })).toThrow(/steps 0/);
    expect(sceneCompatibility(config)).toBeNull();
    expect(sceneCompatibility(toConfig({ ...TINY_TRAIN, numClasses: 5 }))).toMatch(/5 classes/);
    const opt = liveOptimizerConfig(3e-4);
    expect(opt.kind).toBe('adamw');
    expect([0, 1, 500, 10_000].map((s) => learningRate(opt, s, 20))).toEqual([3e-4, 3e-4, 3e-4, 3e-4]);
    expect(() => make().start({ ...random, config: toConfig({ ...TINY_TRAIN, numClasses: 5 }) }, settings(1))).toThrow(/cannot train tiny random on the scenes: it has 5 classes/);
    expect(() => make().resume(settings(1))).toThrow(/no training session to resume/);
  });

  it('start(source, 2 steps) runs steps 0 and 1 on scenes 0 and 1, snapshots the validation scene at steps 0 and 2, then stops; reset frees every tensor', async () => {
    const before = tf.memory().numTensors;
    const trainer = make(true);
    const seen: number[] = [];
    trainer.onChange((s) => seen.push(s.scene.seed));
    await trainer.start(random, settings(2));
    const s = trainer.state;
    expect(s).toMatchObject({ phase: 'stopped', step: 2, target: 2, images: 2, sessionId: 1, hasSession: true, backend: 'wasm' });
    expect(s.points.map((p) => p.step)).toEqual([0, 1]);
    expect(s.points.every((p) => Number.isFinite(p.total) && p.lr === 1e-3 && p.images === 1 && p.ms > 0)).toBe(true);
    expect(s.points[0]!.total).toBeCloseTo(['rpnObjectness', 'rpnBox', 'classifier', 'boxReg', 'mask'].reduce((a, k) => a + (s.points[0] as unknown as Record<string, number>)[k]!, 0), 4);
    expect(new Set(seen)).toEqual(new Set([0, 1]));
    expect(s.snapshots.map((x) => x.step)).toEqual([0, 2]);
    expect(s.snapshots[0]!.masks.length).toBe(s.snapshots[0]!.labels.length);
    expect(s.imagesPerSecond).toBeGreaterThan(0);
    expect(s.message).toMatch(/done at step 2/);
    expect(tf.memory().numTensors).toBeGreaterThan(before);
    trainer.reset();
    expect(tf.memory().numTensors).toBe(before);
    expect(trainer.state).toMatchObject({ phase: 'idle', hasSession: false, step: 0, points: [] });
  }, 120_000);

  it('stop() takes effect between steps; resume continues the same session (same id, next step) and equals an uninterrupted run loss for loss', async () => {
    const before = tf.memory().numTensors;
    const straight = make();
    await straight.start(random, settings(4));
    const reference = losses(straight.state);
    straight.dispose();
    expect(tf.memory().numTensors).toBe(before);

    const trainer = make();
    const off = trainer.onChange((s) => {
      if (s.step === 1 && s.phase === 'running') trainer.stop();
    });
    await trainer.start(random, settings(50));
    off();
    expect(trainer.state).toMatchObject({ phase: 'stopped', step: 1, sessionId: 1 });
    const tensors = tf.memory().numTensors;
    await new Promise((r) => setTimeout(r, 300));
    expect(trainer.state.step).toBe(1);
    await trainer.resume(settings(3));
    expect(trainer.state).toMatchObject({ phase: 'stopped', step: 4, sessionId: 1, target: 4 });
    expect(losses(trainer.state)).toEqual(reference);
    expect(tf.memory().numTensors, 'steps leave no tensor behind').toBe(tensors);
    trainer.dispose();
    expect(tf.memory().numTensors).toBe(before);
  }, 120_000);

  it('backendChanging() during a step drops the session after that step, frees its tensors and says why; Start then begins session 2 at step 0', async () => {
    const before = tf.memory().numTensors;
    const trainer = make();
    let fired = false;
    const off = trainer.onChange((s) => {
      if (!fired && s.phase === 'running' && s.step === 0) {
        fired = true;
        queueMicrotask(() => trainer.backendChanging());
      }
    });
    await trainer.start(random, settings(5));
    off();
    expect(trainer.state).toMatchObject({ phase: 'idle', hasSession: false, step: 0 });
    expect(trainer.state.message).toMatch(/backend changed.*disposed/);
    expect(tf.memory().numTensors).toBe(before);
    await trainer.start(random, settings(1));
    expect(trainer.state).toMatchObject({ sessionId: 2, step: 1 });
    trainer.dispose();
    expect(tf.memory().numTensors).toBe(before);
  }, 120_000);
});
