/**
 * The figures of chapters 3–6 (src/viz) in jsdom: hand-computed geometry and colours, the SVG
 * elements each figure draws, the text alternatives, the NMS player's controls, and the chapters'
 * notebooks compiling with a cell for every <Cell> of their pages. The DOM is a jsdom window's, put
 * on the globals the figures use (the file runs in Node, where the notebook compiler resolves its
 * paths); jsdom has no 2D canvas, so a stub records the RGBA pixels each raster would have become.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JSDOM } from 'jsdom';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { nmsSteps } from '../src/geometry/nms.ts';
import { compileNotebook } from '../src/site/vite-notebooks.ts';
import type { PyramidLevel } from '../src/model.ts';
import { anchorCounts, anchorCountsFigure, anchorCountsTable } from '../src/viz/anchor_counts.ts';
import { type AnchorLevel, type AnchorsData, anchorsFigure, anchorsTable, cellAnchors, clampCell } from '../src/viz/anchors_figure.ts';
import { channelPlane, featureMapsFigure, featureMapsTable, strideText } from '../src/viz/feature_maps.ts';
import { fpnDiagram, fpnTable } from '../src/viz/fpn_diagram.ts';
import { boxScale, levelBoundaries, levelCounts, levelScatter, levelTable, ruleLevel } from '../src/viz/level_scatter.ts';
import { levelCandidates, nmsPlayer, nmsStateAt, suppressedAtStep } from '../src/viz/nms_player.ts';
import { type ObjectnessData, objectnessFigure, objectnessPlane, objectnessTable } from '../src/viz/objectness_grid.ts';
import { proposalsFigure, proposalsTable, topByScore } from '../src/viz/proposals_figure.ts';
import { viridis, viridisRgba } from '../src/viz/viridis.ts';
import type { RgbImage } from '../src/types.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

const { window } = new JSDOM('<!doctype html><html><body></body></html>');
for (const name of ['document', 'Node', 'HTMLElement', 'HTMLCanvasElement', 'SVGElement', 'Event', 'KeyboardEvent', 'MouseEvent', 'XMLSerializer'] as const) {
  Object.defineProperty(globalThis, name, { value: (window as unknown as Record<string, unknown>)[name], configurable: true, writable: true });
}

/** Every raster a figure made (canvas putImageData), in order. */
let rasters: { width: number; height: number; data: Uint8ClampedArray }[] = [];

beforeAll(() => {
  class FakeImageData {
    constructor(
      readonly data: Uint8ClampedArray,
      readonly width: number,
      readonly height: number,
    ) {}
  }
  (globalThis as unknown as { ImageData: unknown }).ImageData = FakeImageData;
  HTMLCanvasElement.prototype.getContext = function () {
    return { putImageData: (img: FakeImageData) => rasters.push({ width: img.width, height: img.height, data: new Uint8ClampedArray(img.data) }) };
  } as unknown as typeof HTMLCanvasElement.prototype.getContext;
  HTMLCanvasElement.prototype.toDataURL = () => 'data:image/png;base64,';
});
afterEach(() => {
  rasters = [];
  vi.useRealTimers();
});

const image = (width: number, height: number): RgbImage => ({ width, height, data: new Uint8Array(width * height * 3).fill(128) });
const texts = (root: Element) => [...root.querySelectorAll('text')].map((t) => t.textContent).join('\n');
const rows = (t: HTMLTableElement) => [...t.tBodies[0]!.rows].map((r) => [...r.cells].map((c) => c.textContent));
const hex = (rgb: ArrayLike<number>) => `#${Array.from(rgb).slice(0, 3).map((v) => v.toString(16).padStart(2, '0')).join('')}`;

describe('viridis', () => {
  it('viridis(0), viridis(0.5), viridis(1) are matplotlib’s #440154, #21918c, #fde725; NaN and out-of-range values clamp', () => {
    expect(hex(viridis(0))).toBe('#440154');
    expect(hex(viridis(0.5))).toBe('#21918c');
    expect(hex(viridis(1))).toBe('#fde725');
    expect(viridis(Number.NaN)).toEqual(viridis(0));
    expect(viridis(-3)).toEqual(viridis(0));
    expect(viridis(7)).toEqual(viridis(1));
  });

  it('viridis(t) gets lighter as t grows (readable in greyscale)', () => {
    const luma = (t: number) => {
      const [r, g, b] = viridis(t);
      return 0.299 * r + 0.587 * g + 0.114 * b;
    };
    for (let t = 0; t < 1; t += 0.05) expect(luma(t + 0.05)).toBeGreaterThan(luma(t));
  });

  it('viridisRgba([0, 5, 10], 0, 10) is dark, middle, bright, opaque; viridisRgba(x, 2, 2) paints all dark', () => {
    const px = viridisRgba([0, 5, 10], 0, 10);
    expect(px).toHaveLength(12);
    expect(hex(px.subarray(0, 3))).toBe('#440154');
    expect(hex(px.subarray(4, 7))).toBe('#21918c');
    expect(hex(px.subarray(8, 11))).toBe('#fde725');
    expect([px[3], px[7], px[11]]).toEqual([255, 255, 255]);
    expect(hex(viridisRgba([1, 2, 3], 2, 2).subarray(8, 11))).toBe('#440154');
  });
});

describe('feature maps (chapter 3)', () => {
  // [C=2, h=2, w=3]: channel 0 is 0..5, channel 1 is 6..11
  const map = { shape: [2, 2, 3], data: Float32Array.from({ length: 12 }, (_, i) => i) };
  const coarse = { shape: [2, 1, 2], data: Float32Array.from([5, -5, 1, 1]) };
  const data = {
    padded: [16, 24] as [number, number],
    resized: [14, 20] as [number, number],
    levels: [
      { label: 'P2', map, stride: [8, 8] as [number, number], channel: 1 },
      { label: 'P3', map: coarse, stride: [16, 12] as [number, number], channel: 0 },
    ],
  };

  it('channelPlane([2, 2, 3] arange, 1) is 6..11; channel 2 throws naming the range', () => {
    expect(Array.from(channelPlane(map, 1))).toEqual([6, 7, 8, 9, 10, 11]);
    expect(() => channelPlane(map, 2)).toThrow(/expected a channel in 0\.\.1, found 2/);
  });

  it('strideText([8, 8]) is "8"; strideText([48, 64]) is "48×64"', () => {
    expect(strideText([8, 8])).toBe('8');
    expect(strideText([48, 64])).toBe('48×64');
  });

  it('featureMapsFigure(two levels, {panelWidth: 120}) draws each level over the padded extent at its stride, channel min dark and max bright', () => {
    const svg = featureMapsFigure(data, { panelWidth: 120 });
    expect([...svg.querySelectorAll('g[data-level]')].map((g) => g.getAttribute('data-level'))).toEqual(['P2', 'P3']);
    // 120 px for 24 image px: k = 5. P2: 3 cells × 8 px × 5 = 120 wide; P3: 2 cells × 12 px × 5 = 120.
    const imgs = [...svg.querySelectorAll('g[data-level] image')];
    expect(imgs.map((i) => [i.getAttribute('width'), i.getAttribute('height')])).toEqual([
      ['120', '80'],
      ['120', '80'],
    ]);
    expect(texts(svg)).toMatch(/P3 · stride 16×12/);
    expect(texts(svg)).toMatch(/2×1×2, channel 0/);
    // Raster 0 is channel 1 of P2 (6..11): first pixel dark, last bright.
    expect(rasters[0]!.width).toBe(3);
    expect(hex(rasters[0]!.data.subarray(0, 3))).toBe('#440154');
    expect(hex(rasters[0]!.data.subarray(20, 23))).toBe('#fde725');
    expect(hex(rasters[1]!.data.subarray(4, 7))).toBe('#440154'); // P3 channel 0 is [5, −5]
  });

  it('featureMapsFigure(a constant channel) says so on its panel', () => {
    const flat = { shape: [1, 1, 2], data: Float32Array.from([0, 0]) };
    const svg = featureMapsFigure({ ...data, levels: [{ label: 'C5', map: flat, stride: [16, 12], channel: 0 }] });
    expect(texts(svg)).toMatch(/all 0: try another channel/);
    expect(texts(featureMapsFigure(data))).not.toMatch(/try another channel/);
  });

  it('featureMapsFigure({..., image}) adds the input as a first panel', () => {
    const svg = featureMapsFigure({ ...data, image: image(20, 14) });
    expect(svg.querySelectorAll('g[data-level]')[0]!.getAttribute('data-level')).toBe('input');
    expect(svg.querySelectorAll('g[data-level]')).toHaveLength(3);
  });

  it('featureMapsTable(two levels) lists shape, stride, channel and the channel’s min, max, mean', () => {
    expect(rows(featureMapsTable(data))).toEqual([
      ['P2', '2 × 2 × 3', '8 × 8', '1', '6.000', '11.000', '8.500'],
      ['P3', '2 × 1 × 2', '16 × 12', '0', '-5.000', '5.000', '0.000'],
    ]);
  });

  const level = (name: string, shape: [number, number, number], stride: number): PyramidLevel => ({ name, shape, stride: [stride, stride] });
  const body = [level('body_c2', [64, 32, 48], 4), level('body_c3', [128, 16, 24], 8), level('body_c4', [256, 8, 12], 16), level('body_c5', [512, 4, 6], 32)];
  const fpn = [level('fpn_0', [16, 32, 48], 4), level('fpn_1', [16, 16, 24], 8), level('fpn_2', [16, 8, 12], 16), level('fpn_3', [16, 4, 6], 32), level('fpn_pool', [16, 2, 3], 64)];

  it('fpnDiagram({body: C2–C5, fpn: P2–P6}) draws the lateral 1×1 of each level with its channels, the top-down ×2 links, the 3×3s and P6', () => {
    const svg = fpnDiagram({ body, fpn });
    const t = texts(svg);
    for (const c of [64, 128, 256, 512]) expect(t).toContain(`lateral 1×1: ${c} → 16 ch`);
    expect(t.match(/×2 nearest/g)).toHaveLength(3);
    expect(t.match(/3×3 conv/g)).toHaveLength(4);
    expect(t).toMatch(/P6\n16×2×3 · \/64/);
    expect(t).toMatch(/max-pool, kernel 1, stride 2/);
  });

  it('fpnTable({body, fpn}) says what each P level is made of', () => {
    const r = rows(fpnTable({ body, fpn }));
    expect(r[0]).toEqual(['P2', 'C2 64×32×48', '1×1: 64 → 16 channels', 'the level-3 sum, upsampled (nearest) to 32×48', '3×3 → 16×32×48', '4']);
    expect(r[3]![3]).toBe('nothing (top level)');
    expect(r[4]).toEqual(['P6', '—', '—', 'max-pool of P5 (stride 2)', '16×2×3', '64']);
  });
});

describe('anchors (chapter 4)', () => {
  // A 2×3 grid of stride 8 with A = 2 anchors per cell: a 8×8 square and a 16×8 wide box, centred on (8x, 8y).
  const anchors = new Float32Array(2 * 3 * 2 * 4);
  for (let y = 0, o = 0; y < 2; y++) {
    for (let x = 0; x < 3; x++) {
      anchors.set([8 * x - 4, 8 * y - 4, 8 * x + 4, 8 * y + 4], o);
      anchors.set([8 * x - 8, 8 * y - 4, 8 * x + 8, 8 * y + 4], o + 4);
      o += 8;
    }
  }
  const level: AnchorLevel = { size: [2, 3], stride: [8, 8], numAnchors: 2, anchors };
  const data: AnchorsData = { image: image(24, 16), resized: [16, 24], padded: [16, 24], level, label: 'P3', cell: [1, 2], ratios: [1, 0.5], sizes: [8] };

  it('cellAnchors(2×3 grid, [1, 2]) is the 2 anchors of cell (x 2, y 1), in (y, x, a) order; a cell outside throws', () => {
    expect(Array.from(cellAnchors(level, [1, 2]))).toEqual([12, 4, 20, 12, 8, 4, 24, 12]);
    expect(() => cellAnchors(level, [2, 0])).toThrow(/inside the 2×3 grid, found \[2, 0\]/);
  });

  it('clampCell(2×3 grid, [5, -1]) is [1, 0]', () => {
    expect(clampCell(level, [5, -1])).toEqual([1, 0]);
    expect(clampCell(level, [Number.NaN, 1.4])).toEqual([0, 1]);
  });

  it('anchorsFigure(cell [1, 2]) draws both anchors and the chosen cell; arrow keys and clicks call onSelect with the new cell', () => {
    const picked: [number, number][] = [];
    const svg = anchorsFigure(data, { width: 400, onSelect: (c) => picked.push(c) });
    expect(svg.querySelectorAll('[data-anchor]')).toHaveLength(2);
    expect(svg.querySelector('[data-cell]')!.getAttribute('data-cell')).toBe('1,2');
    expect(texts(svg)).toMatch(/ratio h\/w 0\.5, size 8: 16 × 8 px, \[8, 4, 24, 12\]/);
    expect(svg.getAttribute('tabindex')).toBe('0');
    svg.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowLeft' }));
    svg.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowDown' })); // already on the last row: stays
    expect(picked).toEqual([
      [1, 1],
      [1, 2],
    ]);
    // The view spans x −1.28 … 25.28 (the anchors reach 24 plus a 4% margin); at 400 px wide a click at
    // 0.5 + 0.1·(26.56 / 400)… simpler: click where image x = 4, y = 12 → cell (0, 1).
    const vb = svg.viewBox.baseVal;
    svg.getBoundingClientRect = () => ({ left: 0, top: 0, width: vb.width, height: vb.height }) as DOMRect;
    const img = svg.querySelector('image')!;
    const k = Number(img.getAttribute('width')) / 24;
    const x0 = Number(img.getAttribute('x'));
    const y0 = Number(img.getAttribute('y'));
    svg.dispatchEvent(new MouseEvent('click', { clientX: x0 + 4 * k, clientY: y0 + 12 * k }));
    expect(picked[2]).toEqual([1, 0]);
  });

  it('anchorsTable(cell [1, 2]) lists each anchor’s ratio, size, width, height and box', () => {
    expect(rows(anchorsTable(data))).toEqual([
      ['0', '1', '8', '8', '8', '[12, 4, 20, 12]'],
      ['1', '0.5', '8', '16', '8', '[8, 4, 24, 12]'],
    ]);
  });

  const counted = [
    { label: 'P2', size: [24, 32] as [number, number], stride: [4, 4] as [number, number], numAnchors: 3 },
    { label: 'P6', size: [2, 2] as [number, number], stride: [48, 64] as [number, number], numAnchors: 3 },
  ];

  it('anchorCounts(P2 24×32, P6 2×2, A = 3) is [2304, 12]; the figure and the table give the total 2,316', () => {
    expect(anchorCounts(counted)).toEqual([2304, 12]);
    const svg = anchorCountsFigure(counted);
    expect(svg.querySelectorAll('rect[data-level]')).toHaveLength(2);
    expect(texts(svg)).toMatch(/24 · 32 · 3 = 2,304/);
    expect(texts(svg)).toMatch(/total: 2,316 anchors/);
    expect(rows(anchorCountsTable(counted)).at(-1)).toEqual(['all levels', '', '', '', '2,316']);
  });
});

describe('RPN (chapter 5)', () => {
  const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
  // 1×2 cells, A = 2: logits in (y, x, a) order.
  const level = { label: 'P2', size: [1, 2] as [number, number], stride: [4, 4] as [number, number], numAnchors: 2, objectness: Float32Array.from([0, 2, -2, 4]) };
  const data: ObjectnessData = { padded: [4, 8], levels: [level], anchorNames: ['h/w 0.5', 'h/w 2'] };

  it('objectnessPlane(level, 1) is sigmoid of the logits of anchor 1 at each cell', () => {
    const p = objectnessPlane(level, 1);
    expect(p[0]).toBeCloseTo(sigmoid(2), 6);
    expect(p[1]).toBeCloseTo(sigmoid(4), 6);
    expect(() => objectnessPlane(level, 2)).toThrow(/anchor index in 0\.\.1, found 2/);
  });

  it('objectnessFigure(1 level, A = 2) draws one heatmap per level and anchor; {scale: "range"} spans the min and max probability', () => {
    const unit = objectnessFigure(data);
    expect(unit.querySelectorAll('image[data-level="P2"]')).toHaveLength(2);
    expect(texts(unit)).toMatch(/0\.00\n1\.00/);
    const range = objectnessFigure(data, { scale: 'range' });
    expect(texts(range)).toContain(sigmoid(-2).toFixed(2));
    expect(texts(range)).toContain(sigmoid(4).toFixed(2));
    // With the range scale, the lowest probability (anchor 0, cell 1: σ(−2)) is the darkest colour.
    expect(hex(rasters.at(-2)!.data.subarray(4, 7))).toBe('#440154');
  });

  it('objectnessTable(1 level, A = 2) gives per anchor the max, its cell, the mean and the cells above 0.5', () => {
    expect(rows(objectnessTable(data))).toEqual([
      ['P2', 'h/w 0.5', sigmoid(0).toFixed(3), '(0, 0)', ((sigmoid(0) + sigmoid(-2)) / 2).toFixed(3), '0 of 2'],
      ['P2', 'h/w 2', sigmoid(4).toFixed(3), '(1, 0)', ((sigmoid(2) + sigmoid(4)) / 2).toFixed(3), '2 of 2'],
    ]);
  });

  it('topByScore([0.1, 0.9, 0.5, 0.9], 3) is [1, 3, 2] (ties by index)', () => {
    expect(topByScore(Float32Array.from([0.1, 0.9, 0.5, 0.9]), 3)).toEqual([1, 3, 2]);
  });

  const boxes = Float32Array.from([0, 0, 10, 10, 1, 1, 11, 11, 20, 20, 30, 30, 0, 0, 5, 5]);
  const scores = Float32Array.from([0.9, 0.8, 0.7, 0.95]);
  const levels = Int32Array.from([0, 0, 1, 1]);

  it('proposalsFigure(4 boxes, {top: 3}) draws the 3 best by score, best on top, with a legend per level', () => {
    const svg = proposalsFigure({ image: image(40, 40), resized: [40, 40], boxes, scores, levels }, { top: 3, width: 80 });
    const drawn = [...svg.querySelectorAll('rect[data-box]')];
    expect(drawn.map((r) => r.getAttribute('data-box'))).toEqual(['1', '0', '3']);
    expect(drawn[2]!.getAttribute('width')).toBe('10'); // box 3 is 5 px wide, × 2
    expect(texts(svg)).toMatch(/P2 2\nP3 1/);
    expect(rows(proposalsTable({ image: image(40, 40), resized: [40, 40], boxes, scores, levels }, { top: 2 }))).toEqual([
      ['1', '0.9500', 'P3', '0.0, 0.0, 5.0, 5.0'],
      ['2', '0.9000', 'P2', '0.0, 0.0, 10.0, 10.0'],
    ]);
  });

  it('levelCandidates(candidates, level 0, 5) is level 0’s boxes by decreasing score', () => {
    const c = levelCandidates({ boxes, scores, levels }, 0, 5);
    expect(Array.from(c.index)).toEqual([0, 1]);
    expect(Array.from(c.boxes)).toEqual([0, 0, 10, 10, 1, 1, 11, 11]);
    expect(Array.from(levelCandidates({ boxes, scores, levels }, 1, 1).index)).toEqual([3]);
  });

  // A [0,0,10,10] 0.9, B [1,1,11,11] 0.8 (IoU 81/119 ≈ 0.68 with A), C [20,20,30,30] 0.7: at 0.5, A suppresses B.
  const three = levelCandidates({ boxes, scores, levels: Int32Array.from([0, 0, 0, 1]) }, 0, 3);
  const steps = nmsSteps(three.boxes, three.scores, 0.5);

  it('nmsStateAt(steps, s) over A, B (IoU 0.68 with A), C at threshold 0.5: all open; A kept and B suppressed; then C kept', () => {
    expect(nmsStateAt(steps, 0)).toEqual(['open', 'open', 'open']);
    expect(nmsStateAt(steps, 1)).toEqual(['kept', 'suppressed', 'open']);
    expect(nmsStateAt(steps, 2)).toEqual(['kept', 'suppressed', 'kept']);
    expect(nmsStateAt(steps, 9)).toEqual(nmsStateAt(steps, 2));
  });

  it('suppressedAtStep(steps, 1) is [B]; step 2 suppresses nothing; step 0 is empty', () => {
    expect(suppressedAtStep(steps, 1)).toEqual([1]);
    expect(suppressedAtStep(steps, 2)).toEqual([]);
    expect(suppressedAtStep(steps, 0)).toEqual([]);
  });

  const playerData = { image: image(40, 40), resized: [40, 40] as [number, number], boxes: three.boxes, scores: three.scores, steps, threshold: 0.5, label: '3 boxes' };

  it('nmsPlayer(A, B, C): Step forward shows step 1 (A kept, B suppressed at IoU 0.68) and reports it; Back and Reset return; the ends disable their buttons', () => {
    const seen: number[] = [];
    const player = nmsPlayer(playerData, { onStep: (s) => seen.push(s) });
    const button = (a: string) => player.querySelector<HTMLButtonElement>(`button[data-action="${a}"]`)!;
    expect(player.step).toBe(0);
    expect(button('back').disabled).toBe(true);
    button('step').click();
    expect(player.step).toBe(1);
    expect(player.querySelector('[role=status]')!.textContent).toBe('Step 1 of 2: kept box #0 (score 0.900); suppressed 1: #1 (IoU 0.68). 1 kept, 1 suppressed, 1 undecided.');
    expect(player.querySelectorAll('rect[data-now]')).toHaveLength(2);
    expect(player.querySelector('svg title')!.textContent).toBe('NMS on 3 boxes: step 1 of 2');
    button('step').click();
    expect(button('step').disabled).toBe(true);
    button('back').click();
    button('reset').click();
    expect(seen).toEqual([0, 1, 2, 1, 0]);
    const range = player.querySelector<HTMLInputElement>('input[type=range]')!;
    expect(player.querySelector(`label[for="${range.id}"]`)!.textContent).toBe('Step');
    range.value = '2';
    range.dispatchEvent(new Event('input'));
    expect(player.step).toBe(2);
    expect(rows(player.querySelector('table')!)).toEqual([
      ['1', '#0 (0.900)', '#1 (0.68)'],
      ['2', '#2 (0.700)', 'none'],
    ]);
  });

  it('nmsPlayer(…, {intervalMs: 100}): Play steps through to the end and stops; Pause stops', () => {
    vi.useFakeTimers();
    const player = nmsPlayer(playerData, { intervalMs: 100, step: 0 });
    const play = player.querySelector<HTMLButtonElement>('button[data-action="play"]')!;
    play.click();
    expect(play.getAttribute('aria-pressed')).toBe('true');
    vi.advanceTimersByTime(100);
    expect(player.step).toBe(1);
    play.click(); // pause
    vi.advanceTimersByTime(500);
    expect(player.step).toBe(1);
    play.click();
    vi.advanceTimersByTime(500);
    expect(player.step).toBe(2);
    expect(play.getAttribute('aria-pressed')).toBe('false');
    player.stop();
  });
});

describe('level assignment (chapter 6)', () => {
  it('ruleLevel(s, 224, 4, 2, 5): 224 → 4, 223.9 → 3, 112 → 3, 111.9 → 2, 448 → 5, 10 → 2 (clamped), 5000 → 5 (clamped)', () => {
    const k = (s: number) => ruleLevel(s, 224, 4, 2, 5);
    expect([224, 223.9, 112, 111.9, 448, 10, 5000].map(k)).toEqual([4, 3, 3, 2, 5, 2, 5]);
  });

  it('levelBoundaries(224, 4, 2, 5) is [112, 224, 448]; levelBoundaries(40, 4, 2, 5) is [20, 40, 80]', () => {
    expect(levelBoundaries(224, 4, 2, 5)).toEqual([112, 224, 448]);
    expect(levelBoundaries(40, 4, 2, 5)).toEqual([20, 40, 80]);
  });

  // √(wh): 50 (P2), 150 (P3), 300 (P4), 600×600 → 600 (P5), 100×400 → 200 (P3)
  const boxes = Float32Array.from([0, 0, 50, 50, 0, 0, 150, 150, 0, 0, 300, 300, 0, 0, 600, 600, 0, 0, 100, 400]);
  const levels = Int32Array.from([0, 1, 2, 3, 1]);
  const data = { boxes, levels, kMin: 2, kMax: 5, canonicalScale: 224, canonicalLevel: 4 };

  it('boxScale(100×400 box) is 200; levelCounts([0, 1, 2, 3, 1], 2, 5) is [1, 2, 1, 1]', () => {
    expect(boxScale(boxes, 4)).toBe(200);
    expect(levelCounts(levels, 2, 5)).toEqual([1, 2, 1, 1]);
  });

  it('levelScatter(5 RoIs) draws a dot per RoI in its level’s colour, the boundaries at 112, 224, 448 and the counts', () => {
    const svg = levelScatter(data);
    expect(svg.querySelectorAll('g.rois circle')).toHaveLength(5);
    expect(texts(svg)).toMatch(/\n112\n224\n448/);
    expect(svg.querySelector('[data-count="P3"]')!.textContent).toBe('2 RoIs');
    expect(svg.querySelector('[data-count="P5"]')!.textContent).toBe('1 RoI');
    // P5 (600 px) is above P2 (50 px) and to its right.
    const [p2, , , p5] = [...svg.querySelectorAll('g.rois circle')].map((c) => [Number(c.getAttribute('cx')), Number(c.getAttribute('cy'))] as const);
    expect(p5![0]).toBeGreaterThan(p2![0]);
    expect(p5![1]).toBeLessThan(p2![1] - 100);
  });

  it('levelTable(5 RoIs) gives each level’s rule interval, count and size range, and how many RoIs match the rule', () => {
    const r = rows(levelTable(data));
    expect(r[1]).toEqual(['P3', '112 ≤ √(wh) < 224', '2', '150.0 – 200.0']);
    expect(r[3]).toEqual(['P5', '448 ≤ √(wh) < ∞', '1', '600.0 – 600.0']);
    expect(r[4]![3]).toBe('5 of 5 match the rule computed here');
    expect(rows(levelTable({ ...data, levels: Int32Array.from([0, 0, 2, 3, 1]) }))[4]![3]).toBe('4 of 5 match the rule computed here');
  });
});

describe('the notebooks of chapters 3–6', () => {
  const slotsOf = (code: string) => [...code.matchAll(/slot: "([^"]+)"/g)].map((m) => m[1]);
  const cellsOnPage = (page: string) => [...readFileSync(join(ROOT, 'src/pages', page), 'utf8').matchAll(/<Cell name="([^"]+)"/g)].map((m) => m[1]);
  for (const [file, page] of [
    ['03-backbone.html', 'backbone.astro'],
    ['04-anchors.html', 'anchors.astro'],
    ['05-rpn.html', 'rpn.astro'],
    ['06-levels.html', 'levels.astro'],
  ] as const) {
    it(`compileNotebook(notebooks/${file}) compiles, imports src/ only, and has a cell for every <Cell> of src/pages/${page}`, () => {
      const path = join(ROOT, 'notebooks', file);
      const code = compileNotebook(readFileSync(path, 'utf8'), path);
      const slots = slotsOf(code);
      const onPage = cellsOnPage(page);
      expect(onPage.length).toBeGreaterThan(3);
      for (const name of onPage) expect(slots, `${page} <Cell name="${name}">`).toContain(name);
      expect(code).not.toMatch(/https?:\/\//);
      for (const m of code.matchAll(/\bimport\("([^"]+)"\)/g)) expect(m[1]).toMatch(/^\.\.\/src\//);
    });
  }
});
