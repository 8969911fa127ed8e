/**
 * Chapters 3–6 of the built site in chromium, with the shared harness of tests/support/site_browser.ts
 * (one build for the file; SITE_E2E_REUSE_BUILD=1 reuses dist/). Chapter 5 runs on WebGPU
 * (SwiftShader); 3, 4 and 6 on wasm through the URL, which starts in seconds where SwiftShader
 * compiles shaders for ~20 s (tests/site_e2e.test.ts compares the two backends). Each
 * chapter loads with no console error, no request outside localhost and none that fails, and draws
 * its figures from the engine's trace; chapter 5's NMS threshold slider changes the proposals figure
 * and re-runs from the proposals stage on (backbone, FPN, RPN head and anchors reused, read from the
 * status bar); chapter 6's canonical-scale slider re-runs from the box RoI pooling. Screenshots go to
 * test-results/screenshots/chapter-{3,4,5,6}-*.png.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectClean, hasChromium, runAfter, setRange, shot, siteBrowser } from './support/site_browser.ts';

describe.runIf(hasChromium())('chapters 3–6 of the built site in chromium', () => {
  const site = siteBrowser();
  beforeAll(site.start);
  afterAll(site.stop);

  it('chapter 3 (/backbone/) draws C2–C5 and P2–P6 with their strides and the FPN diagram; a channel slider redraws without re-running the engine', async () => {
    const { page, context, log } = await site.open('/backbone/?backend=wasm');
    try {
      const first = await runAfter(page, 0);
      expect(first.phase).toBe('idle');
      await page.locator('[data-cell="bodyFigure"] figure svg').waitFor();
      await page.locator('[data-cell="pyramidFigure"] figure svg').waitFor();
      await page.locator('[data-cell="fpnFigure"] figure svg').waitFor();
      // The placeholder's input is padded to 96×128: C2–C5 have strides 4, 8, 16, 32; P6 (2×2) 96 // 2 × 128 // 2.
      expect(await page.locator('[data-cell="bodyFigure"] figcaption').textContent()).toMatch(/Strides 4, 8, 16, 32; sizes 32×24, 16×12, 8×6, 4×3/);
      expect(await page.locator('[data-cell="pyramidFigure"] figcaption').textContent()).toMatch(/Strides 4, 8, 16, 32, 48×64; sizes 32×24, 16×12, 8×6, 4×3, 2×2/);
      expect(await page.locator('[data-cell="pyramidFigure"] svg g[data-level]').count()).toBe(6);
      await page.locator('[data-cell="pChannel"] input[type=range]').focus();
      await page.keyboard.press('ArrowRight');
      await page.locator('[data-cell="pyramidFigure"] figcaption', { hasText: 'channel 1 of 16' }).waitFor();
      expect(new URL(page.url()).searchParams.get('p')).toBe('1');
      await setRange(page, 'c5', 63);
      await page.locator('[data-cell="bodyFigure"] figcaption', { hasText: 'C5 63' }).waitFor();
      expect(await page.evaluate(() => window.__maskRcnnLab!.site.session.state.last?.seq), 'channels only redraw').toBe(first.seq);
      await shot(page, 'chapter-3-backbone');
      expectClean(log);
    } finally {
      await context.close();
    }
  });

  it('chapter 4 (/anchors/) draws the 3 anchors of a chosen cell and counts h·w·A per level; arrow keys on the focused figure and clicks move the cell', async () => {
    const { page, context, log } = await site.open('/anchors/?backend=wasm&level=1&x=3&y=2');
    try {
      await runAfter(page, 0);
      const fig = page.locator('[data-cell="anchors"] figure svg');
      await fig.waitFor();
      expect(await fig.locator('[data-anchor]').count()).toBe(3);
      expect(await fig.locator('[data-cell]').getAttribute('data-cell')).toBe('2,3');
      // P3 is 12×16 cells of 8 px: cell (3, 2) centres its anchors at (24, 16); 64 px at ratio 1 is 64×64.
      const table = await page.locator('[data-cell="anchors"] details table').textContent();
      expect(table).toMatch(/\[-8, -16, 56, 48\]/);
      // P2 24·32·3 + P3 12·16·3 + P4 6·8·3 + P5 3·4·3 + P6 2·2·3 = 3,072
      expect(await page.locator('[data-cell="counts"] figcaption').textContent()).toMatch(/3,072 in total/);
      // The keyboard: focus the figure, → moves one cell right; the redrawn figure keeps the focus.
      await fig.focus();
      await page.keyboard.press('ArrowRight');
      await expect.poll(() => new URL(page.url()).searchParams.get('x')).toBe('4');
      await page.locator('[data-cell="anchors"] svg [data-cell="2,4"]').waitFor();
      await expect.poll(() => page.evaluate(() => document.activeElement?.closest('[data-cell="anchors"]') !== null)).toBe(true);
      await page.keyboard.press('ArrowDown');
      await expect.poll(() => new URL(page.url()).searchParams.get('y')).toBe('3');
      const box = (await fig.boundingBox())!;
      await fig.click({ position: { x: box.width * 0.9, y: box.height * 0.1 } });
      await expect.poll(() => new URL(page.url()).searchParams.get('x')).not.toBe('4');
      await fig.waitFor();
      await shot(page, 'chapter-4-anchors');
      expectClean(log);
    } finally {
      await context.close();
    }
  });

  it('chapter 5 (/rpn/): objectness heatmaps, boxes before/after NMS, NMS player; the NMS threshold slider changes the proposals and re-runs from proposals only', async () => {
    const { page, context, log } = await site.open('/rpn/');
    try {
      const first = await runAfter(page, 0);
      expect(first.phase).toBe('idle');
      await page.locator('[data-cell="objectness"] figure svg').waitFor();
      expect(await page.locator('[data-cell="objectness"] svg image[data-level]').count()).toBe(15);
      await page.locator('[data-cell="after"] figure svg').waitFor();
      const caption = () => page.locator('[data-cell="after"] figcaption').textContent();
      const before = await caption();
      expect(before).toMatch(/IoU > 0\.7 suppressed/);
      const count = (text: string | null) => Number(/: (\d+) proposals/.exec(text ?? '')?.[1]);

      // NMS player: step forward by keyboard, then the step is in the URL.
      const player = page.locator('[data-cell="nms"] .nms-player');
      await player.waitFor();
      await player.locator('button[data-action="step"]').focus();
      await page.keyboard.press('Enter');
      await page.keyboard.press('Enter');
      expect(await player.getAttribute('data-step')).toBe('2');
      expect(await player.locator('[role=status]').textContent()).toMatch(/^Step 2 of \d+: kept box #\d+/);
      expect(new URL(page.url()).searchParams.get('step')).toBe('2');
      await shot(page, 'chapter-5-rpn');

      // The NMS threshold 0.7 → 0.4: fewer proposals; only proposals and what follows are computed.
      await setRange(page, 'nmsThresh', 0.4);
      const second = await runAfter(page, first.seq);
      expect(second.phase).toBe('idle');
      expect(second.computed).toEqual(['proposals', 'boxRoiPool', 'boxHead', 'detections', 'maskRoiPool', 'maskHead', 'paste']);
      const computed = await page.locator('[data-status="run"]').getAttribute('data-computed');
      for (const reused of ['backbone', 'fpn', 'rpnHead', 'anchors']) expect(computed!.split(',')).not.toContain(reused);
      expect(await page.locator('[data-status="run"]').textContent()).toMatch(/from proposals \(NMS\) on; the rest reused/);
      await expect.poll(caption).toMatch(/IoU > 0\.4 suppressed/);
      expect(count(await caption())).toBeLessThan(count(before));
      expect(new URL(page.url()).searchParams.get('nms')).toBe('0.4');
      expect(await page.locator('[data-cell="stages"] svg .stage--computed').count()).toBe(7);
      expect(second.numTensors).toBe(first.numTensors);
      await shot(page, 'chapter-5-rpn-nms-0.4');
      expectClean(log);
    } finally {
      await context.close();
    }
  });

  it('chapter 6 (/levels/): the scatter counts RoIs per level by the rule; the canonical scale slider re-runs from the box RoI pooling', async () => {
    const { page, context, log } = await site.open('/levels/?backend=wasm');
    try {
      const first = await runAfter(page, 0);
      await page.locator('[data-cell="scatter"] figure svg').waitFor();
      const alt = await page.locator('[data-cell="scatter"] details table').textContent();
      expect(alt).toMatch(/(\d+) of \1 match the rule computed here/);
      await setRange(page, 'canonicalScale', 40);
      const second = await runAfter(page, first.seq);
      expect(second.computed[0]).toBe('boxRoiPool');
      expect(second.computed).not.toContain('proposals');
      await page.locator('[data-cell="scatter"] figcaption', { hasText: 's0 = 40' }).waitFor();
      // s0 40, k0 4: steps at 20, 40, 80 px.
      expect(await page.locator('[data-cell="scatter"] figcaption').textContent()).toMatch(/steps at 20, 40, 80 px/);
      expect(await page.locator('[data-cell="scatter"] details table').textContent()).toMatch(/(\d+) of \1 match the rule computed here/);
      await shot(page, 'chapter-6-levels');
      expectClean(log);
    } finally {
      await context.close();
    }
  });
});
