/**
 * The site's Node-testable parts: figure statistics (hand-computed), the resize rule's binding side,
 * the notebook compiler (the real notebooks, and bad cells), the build-time model index, and the
 * engine session on the cpu backend with the tiny model (re-runs, superseded requests, errors, no
 * leak). The pages themselves are tested in a browser by tests/site_e2e.test.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toConfig } from '../src/config.ts';
import { createMaskRcnn, runMaskRcnn } from '../src/model.ts';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { generateScene } from '../src/data/scenes.ts';
import { MAX_PIXELS, SAMPLES, headerSize, loadSample } from '../src/site/images.ts';
import { listModels } from '../src/site/model_index.ts';
import type { LoadedWeights } from '../src/site/models.ts';
import { EngineSession } from '../src/site/session.ts';
import { mergeSpecs } from '../src/config.ts';
import { compileNotebook } from '../src/site/vite-notebooks.ts';
import { bindingSide } from '../src/viz/resize_figure.ts';
import { histogram, planeRegion, rgbChannel, summarize } from '../src/viz/stats.ts';
import { randomStateDict } from './support/random_weights.ts';
import { TINY, randomImage } from './support/tiny.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

describe('figure statistics', () => {
  it('summarize([1, 2, 3, 4]) is mean 2.5, population std √1.25, min 1, max 4; summarize([]) is NaN', () => {
    const s = summarize([1, 2, 3, 4]);
    expect(s.count).toBe(4);
    expect(s.mean).toBe(2.5);
    expect(s.std).toBeCloseTo(Math.sqrt(1.25), 12);
    expect([s.min, s.max]).toEqual([1, 4]);
    expect(Number.isNaN(summarize([]).mean)).toBe(true);
  });

  it('histogram([0, 0.5, 1, -1, 2], 0, 1, 2) clamps outside values into the end bins: [2, 3]', () => {
    expect(Array.from(histogram([0, 0.5, 1, -1, 2], 0, 1, 2))).toEqual([2, 3]);
    expect(() => histogram([1], 1, 1, 4)).toThrow(/lo < hi/);
  });

  it('planeRegion(2×3×4 arange, c=1, [2, 3]) is the top-left 2×3 of plane 1: 12 13 14 16 17 18', () => {
    const data = Float32Array.from({ length: 24 }, (_, i) => i);
    expect([...planeRegion(data, [2, 3, 4], 1, [2, 3])]).toEqual([12, 13, 14, 16, 17, 18]);
  });

  it('rgbChannel([0, 51, 255, 102, 0, 0], 1) is [0.2, 0]', () => {
    expect([...rgbChannel(Uint8Array.from([0, 51, 255, 102, 0, 0]), 1)]).toEqual([0.2, 0]);
  });

  it('bindingSide: a 451×300 photo at 800/1333 is set by its short side; a 1000×100 panorama by its long side', () => {
    expect(bindingSide([300, 451], 800, 1333)).toBe('short');
    expect(bindingSide([100, 1000], 800, 1333)).toBe('long');
  });
});

describe('images of the site', () => {
  it('headerSize reads width × height from a PNG (pngjs 7×5), a JPEG (jpeg-js 9×4, the 451×300 photo), GIF, BMP (top-down) and WebP VP8X headers; undefined for other bytes', () => {
    const png = PNG.sync.write(Object.assign(new PNG({ width: 7, height: 5 }), { data: Buffer.alloc(7 * 5 * 4, 200) }));
    expect(headerSize(png)).toEqual({ width: 7, height: 5 });
    const jpg = jpeg.encode({ width: 9, height: 4, data: Buffer.alloc(9 * 4 * 4, 90) }, 80).data;
    expect(headerSize(jpg)).toEqual({ width: 9, height: 4 });
    expect(headerSize(readFileSync(join(ROOT, 'tests/fixtures/photos/chelsea.jpg')))).toEqual({ width: 451, height: 300 });
    const gif = Uint8Array.from([...Buffer.from('GIF89a'), 0x2c, 0x01, 0xc8, 0x00, 0, 0, 0]);
    expect(headerSize(gif)).toEqual({ width: 300, height: 200 });
    const bmp = new Uint8Array(54);
    bmp.set(Buffer.from('BM'));
    new DataView(bmp.buffer).setInt32(18, 640, true);
    new DataView(bmp.buffer).setInt32(22, -480, true);
    expect(headerSize(bmp)).toEqual({ width: 640, height: 480 });
    // VP8X: canvas width − 1 and height − 1 as 24-bit little-endian at 24 and 27: 20000 × 15000.
    const webp = new Uint8Array(30);
    webp.set(Buffer.from('RIFF'));
    webp.set(Buffer.from('WEBPVP8X'), 8);
    webp.set([0x1f, 0x4e, 0x00, 0x97, 0x3a, 0x00], 24);
    expect(headerSize(webp)).toEqual({ width: 20000, height: 15000 });
    expect(headerSize(Buffer.from('not an image at all, just some text'))).toBeUndefined();
    expect(MAX_PIXELS).toBe(40_000_000);
  });

  it('the first sample (the default image) is validation scene 1000007, generated in the page: the bytes of generateScene(1000007)', async () => {
    const first = SAMPLES[0]!;
    expect(first.id).toBe('scene-1000007');
    const input = await loadSample(first, '/');
    expect(input.id).toBe('sample:scene-1000007');
    expect([input.image.width, input.image.height]).toEqual([256, 256]);
    expect(Buffer.from(input.image.data).equals(Buffer.from(generateScene(1_000_007).image.data))).toBe(true);
  });
});

describe('notebook compiler (notebook-kit deserialize + transpile)', () => {
  const slotsOf = (code: string) => [...code.matchAll(/slot: "([^"]+)"/g)].map((m) => m[1]);
  const cellsOnPage = (page: string) => [...readFileSync(join(ROOT, 'src/pages', page), 'utf8').matchAll(/<Cell name="([^"]+)"/g)].map((m) => m[1]);

  for (const [file, page] of [['01-pipeline.html', 'pipeline.astro'], ['02-input.html', 'input.astro']] as const) {
    it(`compileNotebook(notebooks/${file}) compiles its JavaScript cells, skips markdown, and every <Cell> of src/pages/${page} has a cell`, () => {
      const path = join(ROOT, 'notebooks', file);
      const code = compileNotebook(readFileSync(path, 'utf8'), path);
      expect(code).toMatch(/^\/\/ Compiled from notebooks\//);
      expect(code).not.toMatch(/text\/markdown|md`/);
      // Cell imports become dynamic imports Vite resolves relative to the notebook.
      expect(code).toMatch(/\bimport\("\.\.\/src\/site\/app\.ts"\)/);
      const slots = slotsOf(code);
      for (const name of cellsOnPage(page)) expect(slots, `${page} <Cell name="${name}">`).toContain(name);
      expect(code).not.toMatch(/https?:\/\//);
    });
  }

  const nb = (cells: string) => `<!doctype html>\n<notebook>\n  <title>T</title>\n${cells}\n</notebook>\n`;

  it('compileNotebook names a cell by its output attribute, else its first declaration, else its id', () => {
    const code = compileNotebook(
      nb('  <script id="4" type="module" output="fig">1 + 1</script>\n  <script id="5" type="module">const a = 1, b = 2;</script>\n  <script id="6" type="module">console.log(a)</script>'),
      join(ROOT, 'notebooks/t.html'),
    );
    expect(slotsOf(code)).toEqual(['fig', 'a', '6']);
    expect(code).toMatch(/autodisplay: true/);
  });

  it('compileNotebook refuses a Python cell, a syntax error and two cells with one slot, naming the file and cell', () => {
    const where = join(ROOT, 'notebooks/bad.html');
    expect(() => compileNotebook(nb('  <script id="3" type="text/x-python">print(1)</script>'), where)).toThrow(/notebooks\/bad\.html: cell 3 is a 'python' cell/);
    expect(() => compileNotebook(nb('  <script id="7" type="module">const = 1</script>'), where)).toThrow(/notebooks\/bad\.html: cell 7: /);
    expect(() => compileNotebook(nb('  <script id="1" type="module">const x = 1;</script>\n  <script id="2" type="module" output="x">2</script>'), where)).toThrow(/cells 1 and 2 both show in \[data-cell="x"\]/);
  });
});

describe('listModels (build-time model index)', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'models-'));
    const put = (id: string, files: Record<string, string>) => {
      mkdirSync(join(dir, id), { recursive: true });
      for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, id, f), text);
    };
    put('tiny', { 'model.json': '{"totalBytes": 10}', 'about.json': '{"label": "Tiny", "placeholder": true}' });
    put('coco', { 'model.json': '{"totalBytes": 170, "config": {"numClasses": 91}}', 'about.json': '{"order": 1}' });
    put('other', { 'model.json': '{"totalBytes": 5}' });
    put('broken', { 'model.json': '{not json' });
    put('empty', {});
    put('bad name', { 'model.json': '{}' });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lists folders with a model.json, trained models first by order, placeholders last; skips broken ones with a warning', () => {
    const warnings: string[] = [];
    const models = listModels(dir, (m) => warnings.push(m));
    expect(models.map((m) => m.id)).toEqual(['coco', 'other', 'tiny']);
    expect(models[0]).toEqual({ id: 'coco', manifest: 'models/coco/model.json', totalBytes: 170, about: { order: 1 }, config: { numClasses: 91 } });
    expect(models[1]!.config, 'a model.json without a config').toBeUndefined();
    expect(models[2]!.about).toEqual({ label: 'Tiny', placeholder: true });
    expect(warnings.join('\n')).toMatch(/broken.*re-run npm run convert/);
    expect(warnings.join('\n')).toMatch(/bad name.*letters, digits/);
    expect(listModels(join(dir, 'missing'))).toEqual([]);
  });

  it('public/models: the model the site loads first is the shipped default, trained (no placeholder), with its config and one name per class', () => {
    const [first] = listModels(join(ROOT, 'public/models'));
    expect(first?.id).toBe('default');
    expect(first?.about.placeholder ?? false).toBe(false);
    expect(first?.totalBytes).toBeGreaterThan(100_000);
    const config = toConfig(first!.config!);
    expect(first?.about.classNames).toHaveLength(config.numClasses);
  });
});

describe('EngineSession on cpu with the tiny model', () => {
  const config = toConfig(TINY);
  const weights: LoadedWeights = {
    info: { id: 'tiny', label: 'tiny', placeholder: true, description: '', classNames: ['bg', 'a', 'b', 'c', 'd'] },
    stateDict: randomStateDict(config, 0),
    spec: TINY,
  };
  const image = { id: 'sample:random', label: 'random', image: randomImage(120, 90, 3) };
  let session: EngineSession;
  let baseline = 0;

  beforeAll(async () => {
    await tf.setBackend('cpu');
    baseline = tf.memory().numTensors;
    session = new EngineSession({
      chooseBackend: async (requested) => {
        await tf.setBackend('cpu');
        return { backend: 'cpu', requested, reason: 'test' };
      },
    });
  });

  it('request({weights, image}) runs every stage once and shows the run', async () => {
    session.request({ weights, image });
    await session.idle();
    const run = session.current!;
    expect(session.state.phase).toBe('idle');
    expect(run.computed).toHaveLength(12);
    expect(run.seq).toBe(1);
    expect(Object.keys(run.timings)).toHaveLength(12);
  });

  it('setParams(box score threshold) re-runs from detections on; setParams(mask threshold) re-runs paste only', async () => {
    session.setParams('a', { roiHeads: { postprocess: { scoreThresh: 0.3 } } });
    await session.idle();
    expect(session.current!.computed).toEqual(['detections', 'maskRoiPool', 'maskHead', 'paste']);
    expect(Array.from(session.current!.trace.result.scores).every((s) => s > 0.3)).toBe(true);
    session.setParams('b', { roiHeads: { maskThreshold: 0.7 } });
    await session.idle();
    expect(session.current!.computed).toEqual(['paste']);
    // Both parts' parameters hold.
    expect(session.current!.trace.config.roiHeads.postprocess.scoreThresh).toBe(0.3);
  });

  it('five requests in a row run once, with the last parameters', async () => {
    const runsBefore = session.state.runs;
    const seqBefore = session.current!.seq;
    for (const t of [0.5, 0.55, 0.6, 0.65, 0.62]) session.setParams('a', { rpn: { nmsThresh: t }, roiHeads: { postprocess: { scoreThresh: 0.3 } } });
    await session.idle();
    expect(session.state.runs - runsBefore).toBe(1);
    expect(session.current!.seq).toBe(seqBefore + 1);
    expect(session.current!.trace.config.rpn.nmsThresh).toBe(0.62);
  });

  it('requests while a run is in flight: that run is superseded (not shown), the last parameters run once, and the shown run equals a fresh run with them', async () => {
    const runsBefore = session.state.runs;
    const seqBefore = session.current!.seq;
    const supersededBefore = session.state.superseded;
    let fired = false;
    const off = session.onStatus((st) => {
      if (st.phase !== 'running' || fired) return;
      fired = true;
      for (const t of [0.55, 0.6, 0.65, 0.6]) session.setParams('a', { rpn: { nmsThresh: t }, roiHeads: { postprocess: { scoreThresh: 0.3 } } });
    });
    session.setParams('a', { rpn: { nmsThresh: 0.5 }, roiHeads: { postprocess: { scoreThresh: 0.3 } } });
    await session.idle();
    off();
    expect(session.state.runs - runsBefore).toBe(2);
    expect(session.state.superseded - supersededBefore).toBe(1);
    expect(session.current!.seq).toBe(seqBefore + 1);
    expect(session.current!.computed[0]).toBe('proposals');
    const shown = session.current!.trace;
    expect(shown.config.rpn.nmsThresh).toBe(0.6);
    const model = createMaskRcnn(weights.stateDict, mergeSpecs(TINY, { rpn: { nmsThresh: 0.6 }, roiHeads: { postprocess: { scoreThresh: 0.3 }, maskThreshold: 0.7 } }));
    const fresh = await runMaskRcnn(model, image.image);
    expect(Array.from(shown.result.labels)).toEqual(Array.from(fresh.result.labels));
    expect(Array.from(shown.result.boxes)).toEqual(Array.from(fresh.result.boxes));
    fresh.dispose();
    model.dispose();
  });

  it('a bad value (max_size < min_size) and an architecture change are errors on the status, and the last run stays shown', async () => {
    const shown = session.current;
    session.setParams('c', { transform: { minSize: 120, maxSize: 100 } });
    await session.idle();
    expect(session.state.phase).toBe('error');
    expect(session.state.error).toMatch(/transform\.maxSize = 100: expected an integer ≥ transform\.minSize \(120\)/);
    expect(session.current).toBe(shown);
    session.setParams('c', { roiHeads: { boxRoiPool: { outputSize: 5 } } });
    await session.idle();
    expect(session.state.error).toMatch(/roiHeads\.boxRoiPool\.outputSize changes the network's shape/);
    session.setParams('c', {});
    await session.idle();
    expect(session.state.phase).toBe('idle');
    expect(session.state.error).toBeUndefined();
  });

  it('runs() yields the shown run, then each new one', async () => {
    const gen = session.runs();
    const first = await gen.next();
    expect(first.value).toBe(session.current);
    session.request({ image: { ...image, id: 'sample:other', image: randomImage(100, 80, 5) } });
    const next = await gen.next();
    expect(next.value!.image.id).toBe('sample:other');
    expect(next.value!.computed).toHaveLength(12);
    await gen.return(undefined);
    await session.idle();
  });

  it('a run that fails on a GPU backend (a lost device, simulated) falls back to wasm, says why, and shows a run', async () => {
    // The stub "webgpu" is cpu whose convolutions throw while `lost` is set.
    const originals = ['Conv2D', 'FusedConv2D'].map((name) => tf.getKernel(name, 'cpu')!);
    let lost = false;
    for (const k of originals) {
      tf.unregisterKernel(k.kernelName, 'cpu');
      tf.registerKernel({ ...k, kernelFunc: (args) => {
        if (lost) throw new Error('GPU device was lost (simulated)');
        return k.kernelFunc(args);
      } });
    }
    const gpuSession = new EngineSession({
      chooseBackend: async (requested) => {
        await tf.setBackend('cpu');
        lost = requested !== 'wasm';
        return requested === 'wasm' ? { backend: 'wasm', requested, reason: 'test' } : { backend: 'webgpu', requested, reason: 'adapter' };
      },
    });
    try {
      const before = tf.memory().numTensors;
      gpuSession.request({ weights, image });
      await gpuSession.idle();
      expect(gpuSession.state.phase).toBe('idle');
      expect(gpuSession.state.backend?.backend).toBe('wasm');
      expect(gpuSession.state.backend?.reason).toMatch(/^WebGPU failed during a run \(GPU device was lost \(simulated\)\); fell back to wasm$/);
      expect(gpuSession.current?.computed).toHaveLength(12);
      // device.lost resolves only later (a busy GPU process): the reason is corrected, nothing runs again.
      const runs = gpuSession.state.runs;
      gpuSession.gpuLost('destroyed: late');
      await gpuSession.idle();
      expect(gpuSession.state.backend?.reason).toBe('the WebGPU device was lost during a run (destroyed: late); fell back to wasm');
      expect(gpuSession.state.runs).toBe(runs);
      expect(gpuSession.current?.seq).toBe(1);
      gpuSession.dispose();
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      gpuSession.dispose();
      for (const k of originals) {
        tf.unregisterKernel(k.kernelName, 'cpu');
        tf.registerKernel(k);
      }
    }
  });

  it('a failed WebGPU run whose device turns out lost (gpuLostReason) says the device was lost, not the failed read', async () => {
    const originals = ['Conv2D', 'FusedConv2D'].map((name) => tf.getKernel(name, 'cpu')!);
    let lost = false;
    for (const k of originals) {
      tf.unregisterKernel(k.kernelName, 'cpu');
      tf.registerKernel({ ...k, kernelFunc: (args) => {
        if (lost) throw new Error("Failed to execute 'mapAsync' on 'GPUBuffer'");
        return k.kernelFunc(args);
      } });
    }
    const gpuSession = new EngineSession({
      chooseBackend: async (requested) => {
        await tf.setBackend('cpu');
        lost = requested !== 'wasm';
        return requested === 'wasm' ? { backend: 'wasm', requested, reason: 'test' } : { backend: 'webgpu', requested, reason: 'adapter' };
      },
      gpuLostReason: async () => (lost ? 'destroyed: Device was destroyed.' : undefined),
    });
    try {
      gpuSession.request({ weights, image });
      await gpuSession.idle();
      expect(gpuSession.state.backend?.backend).toBe('wasm');
      expect(gpuSession.state.backend?.reason).toBe('the WebGPU device was lost during a run (destroyed: Device was destroyed.); fell back to wasm');
      expect(gpuSession.current?.computed).toHaveLength(12);
    } finally {
      gpuSession.dispose();
      for (const k of originals) {
        tf.unregisterKernel(k.kernelName, 'cpu');
        tf.registerKernel(k);
      }
    }
  });

  it('gpuLost(reason) during a run that still finishes: that run is not shown; the session falls back to wasm, runs again and says why; when idle it falls back at once', async () => {
    const backends: string[] = [];
    const gpuSession = new EngineSession({
      chooseBackend: async (requested) => {
        await tf.setBackend('cpu');
        backends.push(requested);
        return requested === 'wasm' ? { backend: 'wasm', requested, reason: 'test' } : { backend: 'webgpu', requested, reason: 'adapter' };
      },
    });
    const before = tf.memory().numTensors;
    try {
      // The device goes away as the first run starts computing.
      let sawRunning = false;
      const off = gpuSession.onStatus((st) => {
        if (st.phase === 'running' && !sawRunning) {
          sawRunning = true;
          gpuSession.gpuLost('destroyed: mid-run');
        }
      });
      gpuSession.request({ weights, image });
      await gpuSession.idle();
      off();
      expect(sawRunning).toBe(true);
      expect(backends).toEqual(['auto', 'wasm']);
      expect(gpuSession.state.backend?.reason).toBe('the WebGPU device was lost during a run (destroyed: mid-run); fell back to wasm');
      expect(gpuSession.current?.seq, 'only the wasm run was shown').toBe(1);
      expect(gpuSession.current?.backend.backend).toBe('wasm');
      expect(gpuSession.state.runs).toBe(2);
      // On wasm a loss of the GPU means nothing.
      gpuSession.gpuLost('destroyed: again');
      await gpuSession.idle();
      expect(gpuSession.current?.seq).toBe(1);

      const idleSession = new EngineSession({
        chooseBackend: async (requested) => {
          await tf.setBackend('cpu');
          return requested === 'wasm' ? { backend: 'wasm', requested, reason: 'test' } : { backend: 'webgpu', requested, reason: 'adapter' };
        },
      });
      idleSession.request({ weights, image });
      await idleSession.idle();
      expect(idleSession.current?.backend.backend).toBe('webgpu');
      idleSession.gpuLost('destroyed: idle');
      await idleSession.idle();
      expect(idleSession.current?.backend.backend).toBe('wasm');
      expect(idleSession.current?.seq).toBe(2);
      expect(idleSession.state.backend?.reason).toBe('the WebGPU device was lost (destroyed: idle); fell back to wasm');
      idleSession.dispose();
    } finally {
      gpuSession.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('dispose() frees every tensor the session made (model and traces)', () => {
    session.dispose();
    expect(tf.memory().numTensors).toBe(baseline);
  });
});
