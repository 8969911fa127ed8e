/**
 * Chapter 12 (ablation: RoIPool vs RoIAlign) of the built site in chromium, with the shared harness of
 * tests/support/site_browser.ts (one build for the file; SITE_E2E_REUSE_BUILD=1 reuses dist/). It needs
 * the site's pooler models (public/models/default = RoIAlign and public/models/roipool = RoIPool, found
 * by the pooler in their config); without them the file is skipped with a message, except under CI.
 *
 * On wasm (through the URL): the page loads with no console error and no failed or external request;
 * the status bar's model runs on the validation scene and the other model runs beside it, so both
 * panels show detections on the same scene; moving the scene seed re-runs both; the AP table lists
 * the paper's Table 2c; the live evaluation of 2 scenes adds rows with numbers and leaves no tensor
 * behind, and a longer one is cancelled. Then the backend switches to WebGPU (SwiftShader) in the
 * status bar: both models run again there (the runner's models rebuilt on the new backend).
 * Screenshots: test-results/screenshots/12-ablation*.png.
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listPoolerModels } from '../src/site/ablation_index.ts';
import { ROOT, expectClean, hasChromium, runAfter, setRange, shot, siteBrowser } from './support/site_browser.ts';

const VAL_FIRST = 1_000_000;

/** Whether the site has a RoIPool and a RoIAlign scene model; without them warn and skip, except under CI. */
function hasPoolerModels(): boolean {
  const poolers = new Set(listPoolerModels(join(ROOT, 'public', 'models'), () => {}).map((e) => e.pooler));
  if (poolers.has('roiPool') && poolers.has('roiAlign')) return true;
  const why = `public/models/ has no RoIPool and RoIAlign scene models (found: ${[...poolers].join(', ') || 'none'}); ship default and roipool (scripts/ship-model.ts)`;
  if (process.env['CI']) throw new Error(`chapter 12 e2e under CI: ${why}`);
  console.warn(`[site e2e ch12] ${why}: skipped`);
  return false;
}

interface PanelState {
  id: string;
  pooler: string;
  detections: number;
}

const panels = (page: Page): Promise<PanelState[]> =>
  page.locator('[data-cell="scene"] svg [data-panel="model"]').evaluateAll((els) =>
    els.map((g) => ({ id: g.getAttribute('data-model-id') ?? '', pooler: g.getAttribute('data-pooler') ?? '', detections: Number(g.getAttribute('data-detections')) })),
  );

/** Wait until every model panel of the scene shown for session run `seq` has run (the figure's data-run / data-done). */
async function allRan(page: Page, seq: number): Promise<PanelState[]> {
  await page.locator(`[data-cell="scene"] svg[data-run="${seq}"][data-done="true"]`).waitFor({ timeout: 300_000 });
  return panels(page);
}

const numTensors = (page: Page) => page.evaluate(() => window.__maskRcnnLab!.numTensors());
const param = (page: Page, key: string) => new URL(page.url()).searchParams.get(key);

describe.runIf(hasChromium() && hasPoolerModels())('chapter 12 (ablation) of the built site in chromium', () => {
  const site = siteBrowser();
  beforeAll(site.start);
  afterAll(site.stop);

  it('/ablation/ (wasm, then WebGPU): both pooler models run on the same validation scene and show detections; a new seed re-runs both; the AP table has Table 2c; the live evaluation of 2 scenes gives numbers, a longer one cancels; no tensor left', async () => {
    const { page, context, log } = await site.open('/ablation/?backend=wasm');
    try {
      const first = await runAfter(page, 0);
      expect(first.phase).toBe('idle');
      expect(first.backend).toBe('wasm');
      // The status bar's model ran on the first validation scene; the runner ran the other.
      expect(await page.evaluate(() => window.__maskRcnnLab!.site.session.state.last?.image.id)).toBe(`scene:${VAL_FIRST}`);
      const ran = await allRan(page, first.seq);
      expect(ran.map((p) => p.pooler)).toEqual(expect.arrayContaining(['roiPool', 'roiAlign']));
      for (const p of ran) expect(p.detections, `${p.id} (${p.pooler}) detections`).toBeGreaterThan(0);
      expect(await page.locator('[data-cell="models"] [data-model-id] .ablation-model-state[data-phase="ready"]').count()).toBe(ran.length);
      expect(await page.locator('[data-cell="scene"] svg [data-panel="ground-truth"]').count()).toBe(1);
      // The per-scene table: a row per model with its objects and mask IoU.
      const scoreRows = await page.locator('[data-cell="sceneScores"] table tbody tr').allTextContents();
      expect(scoreRows).toHaveLength(ran.length);
      await page.locator('[data-cell="objectIou"] figure svg').waitFor();
      // The AP table: the paper's five rows, with RoIPool's 26.9 / 48.8 / 26.4.
      const paper = page.locator('[data-cell="ap"] table tbody tr[data-source="paper"]');
      await paper.first().waitFor();
      expect(await paper.count()).toBe(5);
      expect(await paper.first().textContent()).toMatch(/RoIPool.*26\.9.*48\.8.*26\.4/);
      expect(await page.locator('[data-cell="ap"]').textContent()).toMatch(/Mask R-CNN.*ICCV 2017, Table 2c/);
      await page.locator('[data-cell="apChart"] figure svg [data-gain="AP75"]').first().waitFor();
      await page.locator('[data-cell="shift"] figure svg').waitFor();
      await shot(page, '12-ablation');

      // Another scene: the session re-runs, and so does the other model; both panels show the new scene.
      await setRange(page, 'seed', VAL_FIRST + 7);
      const second = await runAfter(page, first.seq);
      expect(second.phase).toBe('idle');
      expect(await page.evaluate(() => window.__maskRcnnLab!.site.session.state.last?.image.id)).toBe(`scene:${VAL_FIRST + 7}`);
      const again = await allRan(page, second.seq);
      expect(await page.locator('[data-cell="scene"] figcaption').textContent()).toMatch(new RegExp(`^Validation scene ${VAL_FIRST + 7}:`));
      expect(again.map((p) => p.id)).toEqual(ran.map((p) => p.id));
      expect(param(page, 'seed')).toBe(String(VAL_FIRST + 7));
      // The ground truth toggle.
      await page.locator('[data-cell="groundTruth"] input[type=checkbox]').uncheck();
      await expect.poll(() => page.locator('[data-cell="scene"] svg [data-panel="ground-truth"]').count()).toBe(0);
      expect(param(page, 'gt')).toBe('false');

      // Live evaluation of 2 scenes: rows "in this browser" with numbers. The first builds the runner's copy of the
      // status bar's model; a second, identical one gives the same numbers and leaves the tensor count where it was.
      const control = page.locator('[data-cell="live"]');
      await control.locator('input[type=number]').fill('2');
      await expect.poll(() => control.locator('button[data-action="evaluate"]').textContent()).toBe('Evaluate 2 validation scenes here');
      const live = page.locator('[data-cell="ap"] table tbody tr[data-source="live"]');
      const evaluate = async () => {
        await control.locator('button[data-action="evaluate"]').click();
        await control.locator('[role=status]', { hasText: `evaluated scenes ${VAL_FIRST}–${VAL_FIRST + 1}` }).waitFor({ timeout: 300_000 });
        await expect.poll(() => live.count()).toBe(ran.length);
        return live.allTextContents();
      };
      const liveRows = await evaluate();
      for (const row of liveRows) expect(row).toMatch(/in this browser.*\d+\.\d.*\d+\.\d.*\d+\.\d/);
      const cells = await live.first().locator('td').allTextContents();
      for (const c of cells.slice(3, 9)) expect(Number(c) >= 0 && Number(c) <= 100, `AP ${c}`).toBe(true);
      expect(cells[9]).toBe('2');
      await shot(page, '12-ablation-live');
      const tensorsAfter = await numTensors(page);
      expect(await evaluate(), 'the same scenes, the same AP').toEqual(liveRows);
      expect(await numTensors(page), 'an evaluation leaves no tensor').toBe(tensorsAfter);

      // A longer evaluation, cancelled once under way.
      await control.locator('input[type=number]').fill('40');
      await control.locator('button[data-action="evaluate"]').click();
      await control.locator('[role=status]', { hasText: /^\d+ of 80 runs/ }).waitFor({ timeout: 120_000 });
      await control.locator('button[data-action="cancel"]').click();
      await control.locator('[role=status]', { hasText: 'cancelled; nothing was kept' }).waitFor({ timeout: 120_000 });
      expect(await live.allTextContents(), 'the finished evaluation stays').toEqual(liveRows);
      expect(await numTensors(page)).toBe(tensorsAfter);

      // WebGPU from the status bar: the session runs there, and the runner rebuilds its models there.
      await page.locator('#backend-select').selectOption('webgpu');
      const third = await runAfter(page, second.seq);
      expect(third.phase).toBe('idle');
      expect(third.backend).toBe('webgpu');
      const onGpu = await allRan(page, third.seq);
      for (const p of onGpu) expect(p.detections, `${p.id} on WebGPU`).toBeGreaterThan(0);
      await shot(page, '12-ablation-webgpu');
      expectClean(log);
    } finally {
      await context.close();
    }
  });
});
