/**
 * Chapters 7–10 of the built site in chromium, with the shared harness of tests/support/site_browser.ts
 * (one build for the file; SITE_E2E_REUSE_BUILD=1 reuses dist/). Chapter 7 runs on WebGPU
 * (SwiftShader), so the engine's RoIPool/RoIWarp re-runs go through the WGSL kernels; 8, 9 and 10 on
 * wasm through the URL (it starts in seconds). Each chapter loads with no console error, no request
 * outside localhost and none that fails, and draws its figures from the engine's trace. The sliders:
 * chapter 7's lens sliders redraw the lens without running the engine, its engine pooler re-runs from
 * the mask RoI pooling (or the box RoI pooling, for both branches) and changes the mask figure;
 * chapter 8's score and NMS thresholds re-run from the detections stage; chapter 10's mask threshold
 * re-runs the paste-back alone — each read from the status bar, with no tensor left behind.
 * Screenshots go to test-results/screenshots/chapter-{7,8,9,10}-*.png.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultModel, expectClean, hasChromium, runAfter, setRange, shot, siteBrowser } from './support/site_browser.ts';

const caption = (page: Page, slot: string) => page.locator(`[data-cell="${slot}"] figcaption`).textContent();
const seqNow = (page: Page) => page.evaluate(() => window.__maskRcnnLab!.site.session.state.last?.seq ?? 0);
const statusComputed = (page: Page) => page.locator('[data-status="run"]').getAttribute('data-computed');
const param = (page: Page, key: string) => new URL(page.url()).searchParams.get(key);

describe.runIf(hasChromium())('chapters 7–10 of the built site in chromium', () => {
  const site = siteBrowser();
  const K = defaultModel().config.numClasses;
  beforeAll(site.start);
  afterAll(site.stop);

  it('chapter 7 (/roi-pooling/, WebGPU): the lens draws the RoI under RoIPool, RoIWarp and RoIAlign; lens sliders, the aligned toggle, a bin click and a drawn box redraw it without running the engine; the engine pooler re-runs from the mask (or box) RoI pooling and changes the masks', async () => {
    const { page, context, log } = await site.open('/roi-pooling/');
    try {
      const first = await runAfter(page, 0);
      expect(first.phase).toBe('idle');
      expect(first.backend).toBe('webgpu');
      for (const slot of ['roi', 'gridPool', 'gridWarp', 'gridAlign', 'quantization', 'pooled', 'masks']) await page.locator(`[data-cell="${slot}"] figure svg`).first().waitFor();
      expect(await page.locator('[data-cell="gridPool"] svg[data-pooler="roiPool"]').count()).toBe(1);
      // The default lens: 7×7 bins, sampling 2 → 49 clickable bins, 2×2 points each.
      expect(await page.locator('[data-cell="gridAlign"] svg [data-bin]').count()).toBe(49);
      expect(await caption(page, 'gridAlign')).toMatch(/2×2 sampling points each, aligned = false/);
      expect(await caption(page, 'gridPool')).toMatch(/^RoIPool on P\d/);
      expect(await page.locator('[data-cell="masks"] svg [data-pooler="roiAlign"] [data-mask-iou]').count()).toBe(1);
      expect(await page.locator('[data-cell="masks"] svg text', { hasText: 'not run yet' }).count()).toBe(2);
      await shot(page, 'chapter-7-roi-pooling');

      // Lens sliders: output size 4 → 16 bins; sampling 0 → adaptive; aligned on. No engine run.
      await setRange(page, 'outputSize', 4);
      await expect.poll(() => page.locator('[data-cell="gridAlign"] svg [data-bin]').count()).toBe(16);
      expect(param(page, 'outputSize')).toBe('4');
      await setRange(page, 'samplingRatio', 0);
      await page.locator('[data-cell="gridAlign"] figcaption', { hasText: '(adaptive)' }).waitFor();
      await page.locator('[data-cell="aligned"] input[type=checkbox]').check();
      await page.locator('[data-cell="gridAlign"] figcaption', { hasText: 'aligned = true' }).waitFor();
      expect(param(page, 'aligned')).toBe('true');
      // RoIAlign with aligned moves nothing, RoIPool does: the quantization table says so.
      const quant = await page.locator('[data-cell="quantization"] table').textContent();
      expect(quant).toMatch(/RoIAlign0\.000, 0\.000, 0\.000, 0\.000/);
      // A bin clicked on the RoIAlign grid becomes the chosen bin (sliders and URL follow).
      await page.locator('[data-cell="gridAlign"] svg [data-bin="1,2"]').click({ force: true });
      await page.locator('[data-cell="gridAlign"] figcaption', { hasText: 'Chosen bin 1, 2' }).waitFor();
      expect(param(page, 'bin')).toBe('1,2');
      expect(await page.locator('[data-cell="bin"] input[type=range]').evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value))).toEqual(['1', '2']);
      // A box drawn on the image becomes the RoI.
      const picker = page.locator('[data-cell="roi"] figure svg');
      await picker.evaluate((el) => el.scrollIntoView({ block: 'center' }));
      const bb = (await picker.boundingBox())!;
      await page.mouse.move(bb.x + bb.width * 0.2, bb.y + bb.height * 0.3);
      await page.mouse.down();
      await page.mouse.move(bb.x + bb.width * 0.45, bb.y + bb.height * 0.55, { steps: 6 });
      await page.mouse.move(bb.x + bb.width * 0.6, bb.y + bb.height * 0.8, { steps: 6 });
      await page.mouse.up();
      await expect.poll(() => param(page, 'roi')).toMatch(/^b:[\d.]+,[\d.]+,[\d.]+,[\d.]+$/);
      expect(await page.locator('[data-cell="roi"] select').inputValue()).toBe('custom');
      await page.locator('[data-cell="roi"] svg text', { hasText: 'chosen: your box' }).waitFor();
      await page.locator('[data-cell="masks"] figcaption', { hasText: 'the detection closest to your box' }).waitFor();
      expect(await seqNow(page), 'the lens never runs the engine').toBe(first.seq);
      await shot(page, 'chapter-7-roi-pooling-lens');

      // The engine's mask pooler: RoIPool re-runs from the mask RoI pooling on; the mask figure gains its column.
      await page.locator('[data-cell="enginePooler"] select').selectOption({ label: 'RoIPool' });
      const second = await runAfter(page, first.seq);
      expect(second.phase).toBe('idle');
      expect(second.computed).toEqual(['maskRoiPool', 'maskHead', 'paste']);
      expect(await statusComputed(page)).toBe('maskRoiPool,maskHead,paste');
      expect(second.labels, 'the detections stay').toEqual(first.labels);
      expect(param(page, 'pooler')).toBe('roiPool');
      await expect.poll(() => page.locator('[data-cell="masks"] svg [data-pooler="roiPool"] [data-mask-iou]').count()).toBe(1);
      // All three: the button runs RoIWarp (and RoIAlign), then RoIPool again.
      await page.locator('[data-cell="compare"] button').click();
      await page.locator('[data-cell="compare"] [role=status]', { hasText: 'ran' }).waitFor({ timeout: 600_000 });
      const third = await runAfter(page, second.seq);
      expect(third.computed).toEqual(['maskRoiPool', 'maskHead', 'paste']);
      await expect.poll(() => page.locator('[data-cell="masks"] svg text', { hasText: 'not run yet' }).count()).toBe(0);
      expect(await page.evaluate(() => window.__maskRcnnLab!.site.session.state.last?.trace.config.roiHeads.maskRoiPool.pooler)).toBe('roiPool');
      const ious = await page.locator('[data-cell="masks"] svg [data-mask-iou]').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-mask-iou'))));
      expect(ious).toHaveLength(3);
      for (const v of ious) expect(v).toBeGreaterThanOrEqual(0);
      // Both branches: the box RoI pooling re-runs too.
      await page.locator('[data-cell="branches"] select').selectOption({ index: 1 });
      const fourth = await runAfter(page, third.seq);
      expect(fourth.computed).toEqual(['boxRoiPool', 'boxHead', 'detections', 'maskRoiPool', 'maskHead', 'paste']);
      expect(fourth.numTensors, 'no tensor left behind').toBe(first.numTensors);
      await shot(page, 'chapter-7-roi-pooling-engine');
      expectClean(log);
    } finally {
      await context.close();
    }
  }, 1_200_000); // WebGPU on SwiftShader: five engine runs, each compiling new shaders

  it('chapter 8 (/box-head/, wasm): class probabilities and per-class boxes of a chosen RoI; the score and NMS sliders re-run from the detections stage and change the candidates figure', async () => {
    const { page, context, log } = await site.open('/box-head/?backend=wasm');
    try {
      const first = await runAfter(page, 0);
      expect(first.phase).toBe('idle');
      for (const slot of ['roi', 'probs', 'classBoxes', 'candidates']) await page.locator(`[data-cell="${slot}"] figure svg`).first().waitFor();
      // K classes: K probabilities in the table; the 3 most likely foreground classes' boxes drawn.
      expect(await page.locator('[data-cell="probs"] table tbody tr').count()).toBe(K);
      expect(await page.locator('[data-cell="classBoxes"] svg g[data-class]').count()).toBe(Math.min(3, K - 1));
      // A proposal from the list: its row is its index.
      await page.locator('[data-cell="roi"] select').selectOption('p3');
      await page.locator('[data-cell="probs"] figcaption', { hasText: /^Proposal 4:/ }).waitFor();
      expect(param(page, 'roi')).toBe('p3');
      const kept = await page.locator('[data-cell="candidates"] svg [data-kept="true"]').count();
      expect(kept).toBe(first.labels.length);

      await setRange(page, 'scoreThresh', 0.5);
      const second = await runAfter(page, first.seq);
      expect(second.phase).toBe('idle');
      expect(second.computed).toEqual(['detections', 'maskRoiPool', 'maskHead', 'paste']);
      expect(await statusComputed(page)).toBe('detections,maskRoiPool,maskHead,paste');
      expect(second.scores.every((s) => s > 0.5)).toBe(true);
      await page.locator('[data-cell="candidates"] figcaption', { hasText: 'score > 0.5' }).waitFor();
      expect(param(page, 'score')).toBe('0.5');
      await setRange(page, 'nmsThresh', 0.2);
      const third = await runAfter(page, second.seq);
      expect(third.computed).toEqual(['detections', 'maskRoiPool', 'maskHead', 'paste']);
      await page.locator('[data-cell="candidates"] figcaption', { hasText: 'NMS at IoU 0.2' }).waitFor();
      expect(third.labels.length, 'a stricter NMS keeps no more').toBeLessThanOrEqual(second.labels.length);
      expect(await page.locator('[data-cell="candidates"] svg [data-kept="true"]').count()).toBe(third.labels.length);
      expect(third.numTensors).toBe(first.numTensors);
      await shot(page, 'chapter-8-box-head');
      expectClean(log);
    } finally {
      await context.close();
    }
  });

  it('chapter 9 (/mask-head/, wasm): K per-class masks per detection with the predicted one framed; sigmoid vs softmax on the same logits', async () => {
    const { page, context, log } = await site.open('/mask-head/?backend=wasm');
    try {
      const first = await runAfter(page, 0);
      expect(first.phase).toBe('idle');
      const grid = page.locator('[data-cell="grid"] figure svg');
      await grid.waitFor();
      expect(await grid.locator('image[data-class]').count(), 'one mask per class').toBe(K);
      expect(await grid.locator('[data-predicted="true"]').count()).toBe(1);
      await page.locator('[data-cell="show"] select').selectOption({ index: 1 });
      await expect.poll(() => grid.locator('[data-predicted="true"]').count()).toBe(Math.min(6, first.labels.length));
      const ss = page.locator('[data-cell="sigmoidSoftmax"] figure svg');
      await ss.waitFor();
      expect(await ss.locator('image[data-row]').count()).toBe(3 * 4);
      // Another detection than the one shown first.
      const other = (await page.locator('[data-cell="detection"] select').evaluate((s: HTMLSelectElement) => s.selectedIndex)) === 1 ? 2 : 1;
      await page.locator('[data-cell="detection"] select').selectOption({ index: other });
      await page.locator('[data-cell="sigmoidSoftmax"] figcaption', { hasText: new RegExp(`^Detection ${other + 1}:`) }).waitFor();
      expect(await seqNow(page)).toBe(first.seq);
      await shot(page, 'chapter-9-mask-head');
      expectClean(log);
    } finally {
      await context.close();
    }
  });

  it('chapter 10 (/paste/, wasm): the paste-back steps of a detection; the mask threshold re-runs the paste-back alone and changes the thresholded mask', async () => {
    const { page, context, log } = await site.open('/paste/?backend=wasm');
    try {
      const first = await runAfter(page, 0);
      expect(first.phase).toBe('idle');
      for (const slot of ['steps', 'sweep', 'all']) await page.locator(`[data-cell="${slot}"] figure svg`).first().waitFor();
      // The shipped model's paste mode (about.json shippedWith) is the selector's first value.
      const modeSelect = page.locator('[data-cell="pasteMode"] select');
      const shippedMode = (await modeSelect.locator('option:checked').textContent())!.startsWith('exact') ? 'exact' : 'torchvision';
      const captionOf = {
        torchvision: /28×28 mask, padded to 30×30, resized to \d+×\d+ pixels into its box widened by 30\/28, then thresholded at 0\.5\./,
        exact: /28×28 mask, padded to 30×30, sampled at each of \d+×\d+ pixels where the mask targets were made \(exact paste\), then thresholded at 0\.5\./,
      };
      expect(await caption(page, 'steps')).toMatch(captionOf[shippedMode]);
      expect(await caption(page, 'steps')).toMatch(/The two pastes disagree on \d+ of its pixels \(torchvision \d+, exact \d+\)\./);
      const areaAt = () => page.locator('[data-cell="steps"] svg [data-area]').getAttribute('data-area');
      const sweepAt = () => page.locator('[data-cell="sweep"] svg circle[data-area]').getAttribute('data-area');
      const before = Number(await areaAt());
      expect(Number(await sweepAt())).toBe(before);

      await setRange(page, 'maskThresh', 0.2);
      const second = await runAfter(page, first.seq);
      expect(second.phase).toBe('idle');
      expect(second.computed).toEqual(['paste']);
      expect(await statusComputed(page)).toBe('paste');
      await page.locator('[data-cell="steps"] figcaption', { hasText: 'thresholded at 0.2.' }).waitFor();
      const after = Number(await areaAt());
      expect(after, 'a lower threshold keeps at least as many pixels').toBeGreaterThanOrEqual(before);
      expect(Number(await sweepAt())).toBe(after);
      expect(param(page, 'mask')).toBe('0.2');
      expect(second.numTensors).toBe(first.numTensors);
      await shot(page, 'chapter-10-paste');

      // The other paste mode re-runs the paste-back alone, and the figure says how it placed the mask.
      const otherMode = shippedMode === 'exact' ? 'torchvision' : 'exact';
      await modeSelect.selectOption({ label: otherMode === 'exact' ? 'exact (per pixel)' : 'torchvision (integer box)' });
      const third = await runAfter(page, second.seq);
      expect(third.phase).toBe('idle');
      expect(third.computed).toEqual(['paste']);
      expect(await statusComputed(page)).toBe('paste');
      await page.locator('[data-cell="steps"] figcaption', { hasText: otherMode === 'exact' ? '(exact paste)' : 'widened by 30/28' }).waitFor();
      expect(await caption(page, 'steps')).toMatch(new RegExp(captionOf[otherMode].source.replace('0\\.5', '0\\.2')));
      expect(param(page, 'paste')).toBe(otherMode);
      expect(third.numTensors).toBe(first.numTensors);
      await shot(page, 'chapter-10-paste-' + otherMode);
      expectClean(log);
    } finally {
      await context.close();
    }
  });
});
