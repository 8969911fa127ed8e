/**
 * `npm run ship` (scripts/ship-model.ts) on a tiny training run (2 steps of a 64-pixel ResNet-18-FPN
 * at width 8, trained here by `npm run train`'s main): the model folder it writes (float16 shards
 * equal to the float16 rounding of the checkpoint, about.json, losses.json, eval.json through
 * `npm run eval`'s own code), the loss downsampling by hand, and what it refuses. Then the shipped-
 * model benchmark section (bench/shipped.ts) on that folder with tiny parameters: it runs both
 * backends and prints its table (no timing is asserted).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runShipped, shippedOptions } from '../bench/shipped.ts';
import { UsageError } from '../src/cli/args.ts';
import { main as trainMain } from '../src/cli/train.ts';
import { SCENE_CLASSES } from '../src/data/scenes.ts';
import { FILES } from '../src/train/checkpoint.ts';
import { LOSS_NAMES } from '../src/train/forward.ts';
import { readSafetensors, readShards, roundToHalf } from '../src/weights/index.ts';
import { MAX_LOSS_POINTS, downsampleLosses, main as shipMain, shipModel } from '../scripts/ship-model.ts';

const TINY_TRAIN_ARGS = [
  '--image-size', '64', '--batch', '1', '--backbone.base-width', '8', '--fpn.out-channels', '16',
  '--roi-heads.box-head.representation-size', '32', '--roi-heads.mask-head.layers', '[16,16]', '--roi-heads.mask-predictor.dim-reduced', '16',
  '--rpn-pre-nms-top-n-train', '200', '--rpn-post-nms-top-n-train', '100', '--box-batch-size-per-image', '32',
  '--rpn-pre-nms-top-n-test', '200', '--rpn-post-nms-top-n-test', '100', '--box-detections-per-img', '20', '--quiet',
];

const quietly = async <T,>(f: () => Promise<T>): Promise<T> => {
  const spy = vi.spyOn(console, 'log').mockImplementation(() => {});
  try {
    return await f();
  } finally {
    spy.mockRestore();
  }
};

describe('downsampleLosses (losses.json)', () => {
  const log = (n: number, from = 0) =>
    Array.from({ length: n }, (_, i) => JSON.stringify({ step: from + i, ...Object.fromEntries(LOSS_NAMES.map((l, k) => [l, (from + i) * (k + 1)])), total: from + i, lr: 0.001, ms: 5 })).join('\n');

  it('1000 steps → window ⌈1000/400⌉ = 3, 334 points; point 0 = mean of steps 0, 1, 2 (1, ×k per term), last = step 999 alone', () => {
    const out = downsampleLosses(log(1000));
    expect(out.window).toBe(3);
    expect(out.steps).toBe(1000);
    expect(out.points).toHaveLength(334);
    expect(out.points.length).toBeLessThanOrEqual(MAX_LOSS_POINTS);
    expect(out.points[0]).toMatchObject({ step: 2, count: 3, rpnObjectness: 1, rpnBox: 2, classifier: 3, boxReg: 4, mask: 5, total: 1, lr: 0.001 });
    expect(out.points[1]).toMatchObject({ step: 5, count: 3, total: 4, mask: 20 });
    expect(out.points.at(-1)).toMatchObject({ step: 999, count: 1, total: 999 });
    expect(out.terms).toEqual([...LOSS_NAMES, 'total', 'lr']);
    expect(out.points[0]).not.toHaveProperty('ms');
  });

  it('400 steps or fewer: one point per step, values rounded to 4 significant digits', () => {
    const out = downsampleLosses(`${JSON.stringify({ step: 0, total: 1.234567, mask: 0.00098765 })}\n\n`);
    expect(out.window).toBe(1);
    expect(out.points).toEqual([{ step: 0, count: 1, total: 1.235, mask: 0.0009877 }]);
    expect(downsampleLosses(log(400)).points).toHaveLength(400);
    expect(downsampleLosses(log(401)).points).toHaveLength(201);
  });

  it('steps at or after the checkpoint (beforeStep) are left out: 10 logged, checkpoint at 6 → steps 0–5', () => {
    const out = downsampleLosses(log(10), 6);
    expect(out.steps).toBe(6);
    expect(out.points.map((p) => p.step)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('a line that is not JSON or has no step names its line number', () => {
    expect(() => downsampleLosses(`${log(2)}\n{"step": 2, "total"`, Infinity, 400, 'runs/x/loss.jsonl')).toThrow(/runs\/x\/loss\.jsonl line 3 is not JSON/);
    expect(() => downsampleLosses('{"total": 1}')).toThrow(/line 1 has no step/);
  });
});

describe('npm run ship on a tiny 2-step run', () => {
  let dir: string;
  let run: string;
  let modelsDir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ship-'));
    run = join(dir, 'run');
    modelsDir = join(dir, 'models');
    expect(await trainMain(['--out', run, '--steps', '2', '--save-every', '1', ...TINY_TRAIN_ARGS])).toBe(0);
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('shipModel writes model.json (float16, version 2, the run config), shards equal to the float16 rounding of model.safetensors', async () => {
    const result = await shipModel({ run, name: 'tiny', modelsDir, order: 2 });
    expect(result.step).toBe(2);
    const out = join(modelsDir, 'tiny');
    expect(readdirSync(out).sort()).toEqual(['about.json', 'losses.json', 'model.json', ...readdirSync(out).filter((f) => f.endsWith('.bin'))].sort());
    const manifest = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')) as { version: number; config: unknown; totalBytes: number; tensors: { dtype: string }[] };
    expect(manifest.version).toBe(2);
    expect(manifest.tensors.every((t) => t.dtype === 'float16')).toBe(true);
    expect(manifest.config).toEqual(JSON.parse(readFileSync(join(run, FILES.config), 'utf8')));
    const original = readSafetensors(new Uint8Array(readFileSync(join(run, FILES.model)))).stateDict;
    const shipped = await readShards(manifest, async (f) => new Uint8Array(readFileSync(join(out, f))));
    expect([...shipped.keys()].sort()).toEqual([...original.keys()].sort());
    for (const [name, t] of original) expect(Array.from(shipped.get(name)!.data), name).toEqual(Array.from(roundToHalf(t.data)));
    // float16: half the float32 bytes, within the 2-byte pads of odd-length tensors
    const f32Bytes = [...original.values()].reduce((a, t) => a + 4 * t.data.length, 0);
    expect(manifest.totalBytes).toBeLessThanOrEqual(f32Bytes / 2 + 2 * original.size);
  });

  it('about.json: label, scene class names, order, not a placeholder; the description gives pooler, steps of total, images seen, recipe, time', () => {
    const about = JSON.parse(readFileSync(join(modelsDir, 'tiny', 'about.json'), 'utf8')) as Record<string, unknown> & { training: Record<string, unknown>; description: string };
    const state = JSON.parse(readFileSync(join(run, FILES.state), 'utf8')) as { elapsedMs: number };
    expect(about['classNames']).toEqual([...SCENE_CLASSES]);
    expect(about['order']).toBe(2);
    expect(about['placeholder']).toBe(false);
    expect(about['label']).toMatch(/RoIAlign/);
    expect(about.description).toMatch(/RoIAlign/);
    expect(about.description).toMatch(/`npm run train` on the synthetic scenes/);
    expect(about.description).toMatch(/2 steps × batch 1 = 2 images seen/);
    expect(about.description).toMatch(/AdamW lr 0\.001/);
    expect(about.description).toMatch(/64×64/);
    expect(about.training).toMatchObject({ pooler: 'roiAlign', steps: 2, totalSteps: 2, batch: 1, imagesSeen: 2, elapsedMs: Math.round(state.elapsedMs), dtype: 'float16' });
  });

  it('losses.json holds the run\'s 2 logged steps with their loss terms', () => {
    const losses = JSON.parse(readFileSync(join(modelsDir, 'tiny', 'losses.json'), 'utf8')) as { points: Record<string, number>[] };
    const lines = readFileSync(join(run, FILES.losses), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    expect(losses.points.map((p) => p['step'])).toEqual([0, 1]);
    losses.points.forEach((p, i) => {
      for (const term of [...LOSS_NAMES, 'total']) expect(p[term]).toBe(Number(lines[i]![term]!.toPrecision(4)));
    });
  });

  it('an existing model folder is refused without --force; --force replaces it and drops a stale eval.json', async () => {
    await expect(shipModel({ run, name: 'tiny', modelsDir })).rejects.toThrow(/tiny already exists \(.*model\.json.*\); pass --force to replace it/);
    writeFileSync(join(modelsDir, 'tiny', 'eval.json'), '{}');
    writeFileSync(join(modelsDir, 'tiny', 'weights-009-of-009.bin'), 'stale');
    await shipModel({ run, name: 'tiny', modelsDir, force: true, dtype: 'float32', label: 'Tiny' });
    const files = readdirSync(join(modelsDir, 'tiny'));
    expect(files).not.toContain('eval.json');
    expect(files).not.toContain('weights-009-of-009.bin');
    const manifest = JSON.parse(readFileSync(join(modelsDir, 'tiny', 'model.json'), 'utf8')) as { version: number; tensors: { dtype: string }[] };
    expect(manifest.version).toBe(1);
    expect(manifest.tensors.every((t) => t.dtype === 'float32')).toBe(true);
    expect((JSON.parse(readFileSync(join(modelsDir, 'tiny', 'about.json'), 'utf8')) as { label: string }).label).toBe('Tiny');
  });

  it('config fields are test-time settings: laid on the run config in model.json, listed in about.json (shippedWith, description); the run is unchanged', async () => {
    const runConfig = readFileSync(join(run, FILES.config), 'utf8');
    expect(await quietly(() => shipMain(['--run', run, '--name', 'tiny-test-time', '--models-dir', modelsDir, '--rpn-post-nms-top-n-test', '50', '--box-score-thresh', '0.2', '--quiet']))).toBe(0);
    const out = join(modelsDir, 'tiny-test-time');
    const config = (JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')) as { config: { rpn: Record<string, unknown>; roiHeads: { postprocess: Record<string, unknown> } } }).config;
    const trained = JSON.parse(runConfig) as typeof config;
    expect(config.rpn['postNmsTopN']).toBe(50);
    expect(config.roiHeads.postprocess['scoreThresh']).toBe(0.2);
    expect(trained.rpn['postNmsTopN']).not.toBe(50);
    expect({ ...config, rpn: trained.rpn, roiHeads: trained.roiHeads }).toEqual(trained);
    expect({ ...config.rpn, postNmsTopN: trained.rpn['postNmsTopN'] }).toEqual(trained.rpn);
    const about = JSON.parse(readFileSync(join(out, 'about.json'), 'utf8')) as { shippedWith: unknown; description: string };
    expect(about.shippedWith).toEqual({ 'rpn.postNmsTopN': 50, 'roiHeads.postprocess.scoreThresh': 0.2 });
    expect(about.description).toMatch(/Shipped with the test-time settings rpn\.postNmsTopN = 50, roiHeads\.postprocess\.scoreThresh = 0\.2 \(npm run ship\)\./);
    expect(readFileSync(join(run, FILES.config), 'utf8')).toBe(runConfig);
    // without config fields there is no shippedWith
    expect(JSON.parse(readFileSync(join(modelsDir, 'tiny', 'about.json'), 'utf8'))).not.toHaveProperty('shippedWith');
  });

  it('ship --eval-seeds 0-1 writes eval.json in npm run eval\'s --json format with the seeds, for the shipped weights', async () => {
    expect(await quietly(() => shipMain(['--run', run, '--name', 'tiny-eval', '--models-dir', modelsDir, '--eval-seeds', '0-1', '--quiet']))).toBe(0);
    const report = JSON.parse(readFileSync(join(modelsDir, 'tiny-eval', 'eval.json'), 'utf8')) as Record<string, unknown> & { bbox: Record<string, number>; segm: Record<string, number> };
    for (const type of ['bbox', 'segm'] as const) expect(Object.keys(report[type]).sort()).toEqual(['AP', 'AP50', 'AP75', 'APl', 'APm', 'APs']);
    expect(report['images']).toBe(2);
    expect(report['seeds']).toBe('0-1');
    expect(report['weights']).toBe(join(modelsDir, 'tiny-eval', 'model.json'));
  }, 120_000);

  it('refuses: a missing run directory, a run without a checkpoint, a corrupt checkpoint, a bad name, a bad dtype, bad seeds', async () => {
    await expect(shipModel({ run: join(dir, 'nope'), name: 'x', modelsDir })).rejects.toThrow(/--run .*nope: no such directory; expected a training run/);
    const empty = join(dir, 'empty-run');
    mkdirSync(empty);
    writeFileSync(join(empty, FILES.losses), '');
    await expect(shipModel({ run: empty, name: 'x', modelsDir })).rejects.toThrow(/has no checkpoint \(no state\.json; it holds loss\.jsonl\).*wait for its first save/);
    const corrupt = join(dir, 'corrupt-run');
    mkdirSync(corrupt);
    for (const f of [FILES.state, FILES.config, FILES.optimizer, FILES.losses]) writeFileSync(join(corrupt, f), readFileSync(join(run, f)));
    writeFileSync(join(corrupt, FILES.model), readFileSync(join(run, FILES.model)).subarray(0, 100));
    await expect(shipModel({ run: corrupt, name: 'x', modelsDir })).rejects.toThrow(/model\.safetensors is unreadable: .*corrupt/);
    await expect(shipModel({ run: corrupt, name: 'x', modelsDir })).rejects.toThrow(UsageError);
    expect(existsSync(join(modelsDir, 'x'))).toBe(false);
    await expect(shipModel({ run, name: '../evil', modelsDir })).rejects.toThrow(/--name \.\.\/evil: expected a folder name/);
    await expect(shipMain(['--run', run, '--name', 'y', '--models-dir', modelsDir, '--dtype', 'int8'])).rejects.toThrow(/--dtype int8: expected float32 or float16/);
    await expect(shipModel({ run, name: 'y', modelsDir, evalSeeds: '9-3' })).rejects.toThrow(/--eval-seeds/);
    await expect(shipMain(['--name', 'y'])).rejects.toThrow(/--run and --name are required/);
    await expect(shipMain(['--run', run, '--name', 'y', '--models-dir', modelsDir, '--num-classes', '3'])).rejects.toThrow(/config fields given to ship change the model's architecture.*pass only test-time settings/);
    await expect(shipMain(['--run', run, '--name', 'y', '--models-dir', modelsDir, '--no-such-field', '3'])).rejects.toThrow(/unknown option --no-such-field/);
    expect(existsSync(join(modelsDir, 'y'))).toBe(false);
  });

  it('bench/shipped.ts section with tiny parameters runs wasm and cpu one after the other and prints its table', async () => {
    const printed: string[] = [];
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const code = await runShipped(
        ['--model', 'tiny', '--models-dir', modelsDir, '--size', '64', '--runs', '2', '--steps', '1', '--cpu-runs', '1', '--cpu-steps', '1', '--warmup', '1', '--timeout', '100', '--cpu-timeout', '100', '--compare-score', '0.3'],
        (s) => printed.push(s),
      );
      expect(code).toBe(0);
    } finally {
      stderr.mockRestore();
    }
    const table = printed.join('\n');
    expect(table).toMatch(/shipped model .*tiny: Tiny; float32/);
    expect(table).toMatch(/^ +wasm +cpu +cpu \/ wasm$/m);
    expect(table).toMatch(/^timed runs \(\+ warm-up\) +2 \(\+1\) +1 *$/m);
    expect(table).toMatch(/^inference, median \(ms\) +[\d.]+ +[\d.]+ +[\d.]+×$/m);
    expect(table).toMatch(/÷ 250 ms wasm target +[\d.]+× +[\d.]+×/);
    expect(table).toMatch(/^training \(images\/s\) +[\d.]+ +[\d.]+ +[\d.]+×$/m);
    expect(table).toMatch(/wasm full trace: \d+ ms median = [\d.]+× the 250 ms target/);
    // --compare-score: the same weights at box score 0.3, wasm only, each run next to a shipped one
    expect(table).toMatch(/^at box score 0\.3, the same weights, runs interleaved:$/m);
    expect(table).toMatch(/^  inference, median \(ms\) +[\d.]+ +— *$/m);
    expect(table).toMatch(/^    ÷ 250 ms wasm target +[\d.]+× +— *$/m);
    const [shipped, compared] = [/^detections +(\d+)/m, /^  detections +(\d+)/m].map((re) => Number(table.match(re)?.[1]));
    expect(compared).toBeLessThanOrEqual(shipped!); // a higher threshold keeps a subset
    expect(table).toMatch(/^  at box score 0\.3: \d+ ms median = [\d.]+× \(\d+ detections against \d+\)$/m);
  }, 180_000);

  it('bench/shipped.ts without the model says so and skips (status 0); bad options are refused', async () => {
    const printed: string[] = [];
    expect(await runShipped(['--model', 'absent', '--models-dir', modelsDir], (s) => printed.push(s))).toBe(0);
    expect(printed.join('\n')).toMatch(/absent\/model\.json does not exist: section skipped\. Ship one with npm run ship/);
    expect(() => shippedOptions(['--backends', 'webgl'])).toThrow(/--backends webgl: expected a comma list of wasm, cpu/);
    expect(() => shippedOptions(['--runs', '0'])).toThrow(/--runs 0: expected an integer ≥ 1/);
    expect(() => shippedOptions(['--compare-score', 'high'])).toThrow(/--compare-score high: expected a box score threshold in \[0, 1\) or none/);
    expect(shippedOptions(['--compare-score', 'none'])).toMatchObject({ compareScore: null });
    expect(shippedOptions([])).toMatchObject({ compareScore: 0.05 });
  });
});
