/**
 * Chapter 11 (training) of the built site in chromium, with the shared harness of
 * tests/support/site_browser.ts (one build for the file; SITE_E2E_REUSE_BUILD=1 reuses dist/).
 * Training starts from the seeded random init (`?init=random`: the recipe's model, which needs no
 * shipped model), batch 1, on wasm through the URL:
 *
 * - the page loads with no console error, no request outside localhost and none that fails; the
 *   engine session runs the model in use on the validation scene;
 * - Start runs 2 steps: the step counter moves, every loss panel of the curve gets 2 points, the
 *   validation scene is shown at step 0 and step 2;
 * - Stop takes effect between steps (the counter no longer moves), Resume continues the same session
 *   from the next step (same session number, consecutive steps in the curve's table);
 * - Reset frees every tensor of the training session (tf.memory() back to the count before Start);
 * - on WebGL the page says training needs WebGPU or wasm and its button switches to wasm; the status
 *   bar switching back to WebGL disposes a training session (tf.memory() back to the engine's own);
 * - from the site's default model (when it was trained on the scenes), a step fine-tunes it;
 * - with a shipped training log (losses.json, served by the test through the page's build-time index),
 *   the page draws the shipped model's curve with its learning rate, its first steps beside a random-init
 *   run, and its end-of-training level beside a fine-tuning run;
 * - with SITE_E2E_WEBGPU_TRAINING=1 and WebGPU (SwiftShader) there, one step runs on it too (slow: see
 *   the test).
 *
 * Screenshots go to test-results/screenshots/11-training*.png.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCENE_CLASSES } from '../src/data/scenes.ts';
import { defaultModel, expectClean, hasChromium, runAfter, shot, siteBrowser } from './support/site_browser.ts';

const panel = (page: Page) => page.locator('[data-cell="panel"] .train-panel');
const trainState = (page: Page) =>
  page.evaluate(() => {
    const p = document.querySelector<HTMLElement>('[data-cell="panel"] .train-panel');
    return { phase: p?.dataset['phase'] ?? '', step: Number(p?.dataset['step'] ?? -1), session: Number(p?.dataset['session'] ?? -1) };
  });
const waitPhase = (page: Page, phases: string[], timeout = 240_000) =>
  page.waitForFunction((ps) => ps.includes(document.querySelector<HTMLElement>('[data-cell="panel"] .train-panel')?.dataset['phase'] ?? ''), phases, { timeout, polling: 200 });
const waitStep = (page: Page, atLeast: number, timeout = 240_000) =>
  page.waitForFunction((n) => Number(document.querySelector<HTMLElement>('[data-cell="panel"] .train-panel')?.dataset['step'] ?? -1) >= n, atLeast, { timeout, polling: 200 });
const button = (page: Page, action: string) => page.locator(`[data-cell="panel"] button[data-action="${action}"]`);
const numTensors = (page: Page) => page.evaluate(() => window.__maskRcnnLab!.numTensors());
const curvePoints = (page: Page) => page.locator('[data-cell="curves"] svg [data-series="yours"]').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-points'))));
/** The step column of the curve's table, for your run. */
const tableSteps = (page: Page) =>
  page.locator('[data-cell="curves"] details table tbody tr').evaluateAll((trs) => trs.filter((tr) => tr.children[0]?.textContent === 'your run').map((tr) => Number(tr.children[1]?.textContent)));

describe.runIf(hasChromium())('chapter 11 (training) of the built site in chromium', () => {
  const site = siteBrowser();
  beforeAll(site.start);
  afterAll(site.stop);

  it('/training/ on wasm from a random init: loads clean; Start runs 2 steps (counter, 2 points per loss panel, validation at steps 0 and 2); Stop stops between steps; Resume continues the same session; Reset frees every tensor', async () => {
    const { page, context, log } = await site.open('/training/?backend=wasm&init=random&batch=1&steps=2');
    try {
      const first = await runAfter(page, 0);
      expect(first.phase).toBe('idle');
      expect(first.backend).toBe('wasm');
      await page.locator('[data-cell="valModel"] figure svg').first().waitFor();
      await page.locator('[data-cell="scene"] figure svg [data-instance]').first().waitFor();
      await expect.poll(() => button(page, 'start').isEnabled()).toBe(true);
      expect(await trainState(page)).toEqual({ phase: 'idle', step: 0, session: 0 });
      expect(await button(page, 'stop').isDisabled()).toBe(true);
      expect(await button(page, 'resume').isDisabled()).toBe(true);
      const before = await numTensors(page);

      // Start: 2 steps, then the validation run of step 2.
      await button(page, 'start').click();
      await waitStep(page, 1);
      await waitPhase(page, ['stopped', 'error']);
      expect(await trainState(page)).toEqual({ phase: 'stopped', step: 2, session: 1 });
      expect(await panel(page).locator('.train-progress').textContent()).toMatch(/^step 2 · [\d.]+ images\/s · last loss \d+\.\d{3}$/);
      expect(await curvePoints(page)).toEqual([2, 2, 2, 2, 2, 2]);
      expect(await page.locator('[data-cell="curves"] figcaption').textContent()).toMatch(/Your run: 2 steps from a random initialization \(seed 0\)/);
      await page.locator('[data-cell="snapshots"] figure svg [data-panel="2"]').waitFor();
      expect(await page.locator('[data-cell="snapshots"] svg [data-panel] > text').allTextContents()).toEqual(['ground truth', 'step 0', 'step 2']);
      await shot(page, '11-training');

      // Stop between steps: a longer run, stopped once it has moved.
      await page.locator('[data-cell="steps"] select').selectOption({ label: '50 steps' });
      await expect.poll(() => new URL(page.url()).searchParams.get('steps')).toBe('50');
      await button(page, 'resume').click();
      await waitStep(page, 3);
      await button(page, 'stop').click();
      await waitPhase(page, ['stopped', 'error']);
      const stopped = await trainState(page);
      expect(stopped.phase).toBe('stopped');
      expect(stopped.session).toBe(1);
      expect(stopped.step).toBeGreaterThanOrEqual(3);
      expect(stopped.step).toBeLessThan(52);
      await page.waitForTimeout(4000);
      expect((await trainState(page)).step, 'the counter no longer moves after Stop').toBe(stopped.step);

      // Resume: the same session goes on from the next step.
      await button(page, 'resume').click();
      await waitStep(page, stopped.step + 1);
      await button(page, 'stop').click();
      await waitPhase(page, ['stopped', 'error']);
      const resumed = await trainState(page);
      expect(resumed.phase).toBe('stopped');
      expect(resumed.session).toBe(1);
      expect(resumed.step).toBeGreaterThan(stopped.step);
      await page.evaluate(() => document.querySelector<HTMLDetailsElement>('[data-cell="curves"] details')!.open = true);
      expect(await tableSteps(page)).toEqual(Array.from({ length: resumed.step }, (_, i) => i));
      await shot(page, '11-training-resumed');

      // Reset: the session's parameters and optimizer buffers are freed.
      await button(page, 'reset').click();
      await waitPhase(page, ['idle']);
      expect(await numTensors(page)).toBe(before);
      expectClean(log);
    } finally {
      await context.close();
    }
  }, 600_000);

  it('on WebGL the page says training needs WebGPU or wasm, Start is disabled, and its "Use WebAssembly" button switches; the status bar switching back to WebGL disposes the training session', async () => {
    const { page, context, log } = await site.open('/training/?backend=webgl&init=random&batch=1&steps=1');
    try {
      const t0 = Date.now();
      const first = await runAfter(page, 0);
      console.info(`[site e2e ch11] first WebGL run: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      expect(first.backend).toBe('webgl');
      await panel(page).locator('.train-gate').waitFor();
      expect(await panel(page).locator('.train-gate').textContent()).toMatch(/needs WebGPU or WebAssembly/);
      expect(await button(page, 'start').isDisabled()).toBe(true);
      await panel(page).locator('button[data-use-backend="wasm"]').click();
      const onWasm = await runAfter(page, first.seq);
      expect(onWasm.backend, await page.evaluate(() => window.__maskRcnnLab!.site.session.state.backend?.reason ?? "")).toBe("wasm");
      expect(new URL(page.url()).searchParams.get('backend')).toBe('wasm');
      await expect.poll(() => panel(page).locator('.train-gate').count()).toBe(0);
      await expect.poll(() => button(page, 'start').isEnabled()).toBe(true);

      // A session on wasm, then the status bar switches back to WebGL (its shaders are compiled by now): the
      // training session is dropped with its tensors, and the page says again why it can't train there.
      const idle = await numTensors(page);
      await button(page, 'start').click();
      await waitPhase(page, ['stopped', 'error']);
      expect(await trainState(page)).toMatchObject({ phase: 'stopped', step: 1, session: 1 });
      expect(await numTensors(page)).toBeGreaterThan(idle);
      const t1 = Date.now();
      await page.evaluate(() => {
        const select = document.querySelector<HTMLSelectElement>('#backend-select')!;
        select.value = 'webgl';
        select.dispatchEvent(new Event('change'));
      });
      const back = await runAfter(page, onWasm.seq);
      console.info(`[site e2e ch11] second WebGL run: ${((Date.now() - t1) / 1000).toFixed(1)} s`);
      expect(back.backend).toBe('webgl');
      await waitPhase(page, ['idle']);
      expect(await trainState(page)).toEqual({ phase: 'idle', step: 0, session: 0 });
      await panel(page).locator('.train-gate').waitFor();
      expect(await numTensors(page), 'the same engine tensors as before training, none of the trainer').toBe(idle);
      expectClean(log);
    } finally {
      await context.close();
    }
  }, 600_000);

  it.runIf(defaultModel().config.numClasses === SCENE_CLASSES.length)('from the default model (the status bar’s, loaded from public/models/): one fine-tuning step on wasm, curve and validation at steps 0 and 1', async () => {
    const model = defaultModel();
    const { page, context, log } = await site.open('/training/?backend=wasm&batch=1&steps=1');
    try {
      const first = await runAfter(page, 0);
      expect(first.phase).toBe('idle');
      expect(await page.evaluate(() => window.__maskRcnnLab!.site.session.state.model?.id)).toBe(model.id);
      expect(await page.locator('[data-cell="init"] select option:checked').textContent()).toMatch(/the model in use/);
      expect(await page.locator('[data-cell="lr"] input').inputValue()).toBe('0.0001');
      await expect.poll(() => button(page, 'start').isEnabled()).toBe(true);
      await button(page, 'start').click();
      await waitPhase(page, ['stopped', 'error']);
      expect(await panel(page).locator('.train-error').textContent()).toBe('');
      expect(await trainState(page)).toEqual({ phase: 'stopped', step: 1, session: 1 });
      expect(await panel(page).locator('.train-status').textContent()).toContain(`from ${model.about.label ?? model.id}`);
      expect(await curvePoints(page)).toEqual([1, 1, 1, 1, 1, 1]);
      expect(await page.locator('[data-cell="snapshots"] svg [data-panel] > text').allTextContents()).toEqual(['ground truth', 'step 0', 'step 1']);
      await shot(page, '11-training-fine-tune');
      expectClean(log);
    } finally {
      await context.close();
    }
  }, 600_000);

  it('with a shipped training log (served by the test, listed in the page’s build-time index): the shipped curve with its learning rate; its first steps beside a random init, its end level beside the model', async () => {
    // 300 logged steps: losses falling as 1 + 2·e^(−step/100), a 100-step linear warm-up to 1e-3.
    const points = Array.from({ length: 300 }, (_, step) => {
      const v = 1 + 2 * Math.exp(-step / 100);
      return { step, total: 5 * v, rpnObjectness: v, rpnBox: v / 10, classifier: v, boxReg: v, mask: v, lr: 1e-3 * Math.min(1, (step + 1) / 100) };
    });
    // A file first (not a page: a page would start loading the model, and leaving it would abort that), then the routes.
    const { page, context, log } = await site.open('/favicon.svg');
    try {
      await page.route(/\/training\/(\?.*)?$/, async (route) => {
        const res = await route.fetch();
        const html = (await res.text()).replace(/(<script[^>]*id="training-curves"[^>]*>)[^<]*(<\/script>)/, '$1{"default":"models/default/losses.json"}$2');
        await route.fulfill({ response: res, body: html });
      });
      await page.route('**/models/default/losses.json', (route) => route.fulfill({ contentType: 'application/json', body: JSON.stringify({ points }) }));
      await page.goto(`${site.origin}/training/?backend=wasm&init=random`);
      await runAfter(page, 0);
      const shipped = page.locator('[data-cell="shippedCurve"] figure svg');
      await shipped.waitFor();
      expect(await shipped.locator('[data-term]').evaluateAll((els) => els.map((e) => e.getAttribute('data-term')))).toEqual(['total', 'rpnObjectness', 'rpnBox', 'classifier', 'boxReg', 'mask', 'lr']);
      expect(await shipped.locator('[data-term="lr"] [data-series="shipped"]').getAttribute('data-points')).toBe('300');
      expect(await page.locator('[data-cell="shippedCurve"] figcaption').textContent()).toMatch(/300 logged steps/);
      // Random init: the shipped run's steps 0 … 10 on the live figure's axis (no step of yours yet).
      expect(await page.locator('[data-cell="curves"] svg [data-term="mask"] [data-series="shipped"]').getAttribute('data-points')).toBe('11');
      expect(await page.locator('[data-cell="curves"] svg [data-level]').count()).toBe(0);
      // From the model: the end-of-training level instead (the mean of the last 100 steps).
      await page.locator('[data-cell="init"] select').selectOption({ index: 0 });
      await page.locator('[data-cell="curves"] svg [data-term="mask"] [data-level="shipped-end"]').waitFor({ state: 'attached' });
      const level = Number(await page.locator('[data-cell="curves"] svg [data-term="mask"] [data-level="shipped-end"]').getAttribute('data-value'));
      const expected = points.slice(-100).reduce((a, p) => a + p.mask, 0) / 100;
      expect(level).toBeCloseTo(expected, 6);
      expect(await page.locator('[data-cell="curves"] svg [data-series="shipped"]').count()).toBe(0);
      await shot(page, '11-training-shipped-log');
      expectClean(log);
    } finally {
      await context.close();
    }
  }, 600_000);

  // On SwiftShader, WebGPU compiles every shader of the forward and backward passes on the CPU: measured
  // on this 2-core machine, 300 s for the test (the page's first run, then one step and two validation
  // runs in 212 s), so the WebGPU step runs only when asked for (SITE_E2E_WEBGPU_TRAINING=1).
  it.runIf(process.env['SITE_E2E_WEBGPU_TRAINING'])('WebGPU (SwiftShader): one training step from a random init runs and draws its point', async () => {
    const { page, context, log } = await site.open('/training/?init=random&batch=1&steps=1');
    try {
      const first = await runAfter(page, 0, 600_000);
      if (first.backend !== 'webgpu') {
        console.warn(`[site e2e ch11] no WebGPU here (${first.backend}): the WebGPU step is skipped`);
        return;
      }
      await expect.poll(() => button(page, 'start').isEnabled()).toBe(true);
      const t0 = Date.now();
      await button(page, 'start').click();
      await waitPhase(page, ['stopped', 'error'], 1_200_000);
      console.info(`[site e2e ch11] one WebGPU step + two validation runs: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      expect(await panel(page).locator('.train-error').textContent()).toBe('');
      expect(await trainState(page)).toEqual({ phase: 'stopped', step: 1, session: 1 });
      expect(await curvePoints(page)).toEqual([1, 1, 1, 1, 1, 1]);
      await shot(page, '11-training-webgpu');
      expectClean(log);
    } finally {
      await context.close();
    }
  }, 1_800_000);
});
