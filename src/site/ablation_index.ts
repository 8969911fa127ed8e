/**
 * Build-time index of the ablation chapter (Node only: Astro frontmatter). Of the site's models
 * (`listModels`, public/models/NAME/), the ones trained on the synthetic scenes (numClasses = the
 * scenes' classes + background), with the RoI pooler each was trained with (from the config in its
 * model.json) and its recorded evaluation (`eval.json` beside it, written by `npm run eval -- --json`),
 * serialized into the page for src/site/ablation_view.ts. Reading the files here, not in the browser,
 * means a model without eval.json costs no failed request.
 *
 * Glossary
 *   pooler model   a scene model; its pooler is the mask branch's (`roiHeads.maskRoiPool.pooler`); the
 *                  box branch's is recorded too (the training CLI sets both)
 *   eval report    `{"bbox": {AP, AP50, AP75, APs, APm, APl}, "segm": {…}, "images": N, "seeds": "A-B"}`
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Pooler, toConfig } from '../config.ts';
import { SCENE_CLASSES } from '../data/scenes.ts';
import type { ApNumbers } from '../eval/coco_eval.ts';
import { listModels } from './model_index.ts';

export type { ApNumbers };

/** What eval.json says (the fields the chapter uses). */
export interface EvalReportData {
  bbox: ApNumbers;
  segm: ApNumbers;
  images: number;
  /** The seed range evaluated, e.g. "1000000-1000499", when recorded. */
  seeds?: string;
}

/** One scene model of the site, for the ablation chapter. */
export interface PoolerModelEntry {
  /** The folder name (= the model index id). */
  id: string;
  label: string;
  placeholder: boolean;
  /** The mask branch's pooler: what the chapter compares. */
  pooler: Pooler;
  boxPooler: Pooler;
  /** Optimizer steps trained (about.json `training.steps`, written by npm run ship), or null when not recorded. */
  steps: number | null;
  /** public/models/NAME/eval.json, or null when absent or unreadable (`evalNote` says which). */
  eval: EvalReportData | null;
  evalNote?: string;
}

const AP_KEYS = ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl'] as const;

/** Check an eval.json's parsed JSON; throws an Error saying what is wrong. */
export function parseEvalReport(json: unknown): EvalReportData {
  const o = json as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null) throw new Error(`expected an object, found ${JSON.stringify(json)?.slice(0, 40)}`);
  const ap = (type: 'bbox' | 'segm'): ApNumbers => {
    const t = o[type] as Record<string, unknown> | undefined;
    if (typeof t !== 'object' || t === null) throw new Error(`"${type}" is missing; expected {AP, AP50, AP75, APs, APm, APl}`);
    const out = {} as ApNumbers;
    for (const k of AP_KEYS) {
      const v = t[k];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`"${type}.${k}" is ${JSON.stringify(v)}; expected a number (the evaluator writes 0…1, or −1 where undefined)`);
      out[k] = v;
    }
    return out;
  };
  const bbox = ap('bbox');
  const segm = ap('segm');
  const images = o['images'];
  if (typeof images !== 'number' || !Number.isInteger(images) || images < 1) throw new Error(`"images" is ${JSON.stringify(images)}; expected the number of scenes evaluated`);
  const seeds = typeof o['seeds'] === 'string' ? o['seeds'] : undefined;
  return { bbox, segm, images, ...(seeds !== undefined ? { seeds } : {}) };
}

/**
 * The scene models under `modelsDir` (e.g. `public/models`), in the model index's order, each with
 * its pooler and its eval.json. Models of another class count (COCO checkpoints, the tiny placeholder)
 * are left out; a model.json whose config does not parse is reported and skipped.
 */
export function listPoolerModels(modelsDir: string, warn: (message: string) => void = console.warn): PoolerModelEntry[] {
  const out: PoolerModelEntry[] = [];
  for (const entry of listModels(modelsDir, warn)) {
    const dir = join(modelsDir, entry.id);
    let config;
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { config?: unknown };
      config = toConfig((manifest.config ?? {}) as Parameters<typeof toConfig>[0]);
    } catch (e) {
      warn(`ablation: skipping ${dir}: its model.json config does not parse (${(e as Error).message})`);
      continue;
    }
    if (config.numClasses !== SCENE_CLASSES.length) continue;
    let report: EvalReportData | null = null;
    let evalNote: string | undefined;
    const evalPath = join(dir, 'eval.json');
    if (!existsSync(evalPath)) evalNote = `no eval.json in public/models/${entry.id}/ (npm run eval -- --model ${entry.id} --seeds 1000000-1000499 --json public/models/${entry.id}/eval.json)`;
    else {
      try {
        report = parseEvalReport(JSON.parse(readFileSync(evalPath, 'utf8')));
      } catch (e) {
        evalNote = `public/models/${entry.id}/eval.json is unreadable: ${(e as Error).message}`;
        warn(`ablation: ${evalNote}`);
      }
    }
    const steps = (entry.about as { training?: { steps?: unknown } }).training?.steps;
    out.push({
      id: entry.id,
      label: entry.about.label ?? entry.id,
      placeholder: entry.about.placeholder === true,
      pooler: config.roiHeads.maskRoiPool.pooler,
      boxPooler: config.roiHeads.boxRoiPool.pooler,
      steps: typeof steps === 'number' && Number.isInteger(steps) ? steps : null,
      eval: report,
      ...(evalNote !== undefined ? { evalNote } : {}),
    });
  }
  return out;
}

/**
 * When the pooler models were not all trained for the same number of steps, a sentence that says so
 * (naming each model's steps); null when they agree or are not recorded.
 */
export function unequalStepsNote(models: readonly PoolerModelEntry[]): string | null {
  const known = models.filter((m) => m.steps !== null);
  if (new Set(known.map((m) => m.steps)).size <= 1) return null;
  const list = known.map((m) => `${m.id} ${m.steps}`).join(', ');
  return `These models were not trained for the same number of steps (${list}), so their AP differs by training time as well as by pooler: the fair comparison waits for the shorter run to catch up.`;
}
