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
import { defaultModel, expectClean, hasChromium, runAfter, setRange, shot, siteBrowser } from './support/site_browser.ts';

/** "8" for a square stride, "48×64" (y×x) otherwise, as the figures write it. */
const strideText = (sy: number, sx: number) => (sy === sx ? String(sy) : `${sy}×${sx}`);

describe.runIf(hasChromium())('chapters 3–6 of the built site in chromium', () => {
  const site = siteBrowser();
  const model = defaultModel();
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
      // The padded input H×W (a multiple of 32): C2–C5 are W/s × H/s at strides s = 4, 8, 16, 32; P6 is P5
      // max-pooled with kernel 1, stride 2 (⌈P5 / 2⌉), and its stride is H // h × W // w.
      const [H, W] = first.padded;
      expect(H % 32 === 0 && W % 32 === 0).toBe(true);
      const sizes = [4, 8, 16, 32].map((s) => `${W / s}×${H / s}`);
      const [p6w, p6h] = [Math.ceil(W / 64), Math.ceil(H / 64)];
      expect(await page.locator('[data-cell="bodyFigure"] figcaption').textContent()).toContain(`Strides 4, 8, 16, 32; sizes ${sizes.join(', ')}.`);
      expect(await page.locator('[data-cell="pyramidFigure"] figcaption').textContent()).toContain(`Strides 4, 8, 16, 32, ${strideText(Math.floor(H / p6h), Math.floor(W / p6w))}; sizes ${sizes.join(', ')}, ${p6w}×${p6h}.`);
      expect(await page.locator('[data-cell="pyramidFigure"] svg g[data-level]').count()).toBe(6);
      await page.locator('[data-cell="pChannel"] input[type=range]').focus();
      await page.keyboard.press('ArrowRight');
      await page.locator('[data-cell="pyramidFigure"] figcaption', { hasText: `channel 1 of ${model.config.fpn.outChannels}` }).waitFor();
      expect(new URL(page.url()).searchParams.get('p')).toBe('1');
      // C5 has 8·w·e channels (w the base width, e = 4 for bottlenecks); pick one past the first 32.
      const c5 = Math.min(63, 8 * model.config.backbone.baseWidth * (model.config.backbone.depth >= 50 ? 4 : 1) - 1);
      await setRange(page, 'c5', c5);
      await page.locator('[data-cell="bodyFigure"] figcaption', { hasText: `C5 ${c5}` }).waitFor();
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
      const first = await runAfter(page, 0);
      const fig = page.locator('[data-cell="anchors"] figure svg');
      await fig.waitFor();
      expect(await fig.locator('[data-anchor]').count()).toBe(3);
      expect(await fig.locator('[data-cell]').getAttribute('data-cell')).toBe('2,3');
      // P3 cells are 8 px: cell (x 3, y 2) shifts its anchors by (24, 16); the level's size s at ratio 1 is
      // the base anchor [−s/2, −s/2, s/2, s/2] (torchvision rounds; s is even), shifted.
      const s = model.config.anchors.sizes[1]![0]!;
      const table = await page.locator('[data-cell="anchors"] details table').textContent();
      expect(table).toContain(`[${24 - s / 2}, ${16 - s / 2}, ${24 + s / 2}, ${16 + s / 2}]`);
      // h·w·3 per level over P2–P5 (H/s × W/s) and P6 (⌈H/64⌉ × ⌈W/64⌉).
      const [H, W] = first.padded;
      const total = [4, 8, 16, 32].reduce((n, st) => n + (H / st) * (W / st) * 3, 0) + Math.ceil(H / 64) * Math.ceil(W / 64) * 3;
      expect(await page.locator('[data-cell="counts"] figcaption').textContent()).toContain(`${total.toLocaleString('en-US')} in total`);
      // The keyboard: focus the figure, → moves one cell right; the redrawn figure keeps the focus.
      await fig.focus();
      await page.keyboard.press('ArrowRight');
      await expect.poll(() => new URL(page.url()).searchParams.get('x')).toBe('4');
      await page.locator('[data-cell="anchors"] svg [data-cell="2,4"]').waitFor();
      await expect.poll(() => page.evaluate(() => document.activeElement?.closest('[data-cell="anchors"]') !== null)).toBe(true);
      await page.keyboard.press('ArrowDown');
      await expect.poll(() => new URL(page.url()).searchParams.get('y')).toBe('3');
      await page.locator('[data-cell="anchors"] svg [data-cell="3,4"]').waitFor(); // the redrawn figure
      // The figure's top just under the sticky status bar, so that the bar does not cover the click.
      await fig.evaluate((el) => window.scrollBy(0, el.getBoundingClientRect().top - document.getElementById('status-bar')!.getBoundingClientRect().bottom - 8));
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
    // post-NMS top-N 4000 (the slider's maximum, set in the URL) is above the pre-NMS boxes of a 256-pixel scene
    // (≤ 1000 per level: at most 3008), so the proposal count is NMS's alone and not the model's budget (300)
    const { page, context, log } = await site.open('/rpn/?postNms=4000');
    try {
      const first = await runAfter(page, 0);
      expect(first.phase).toBe('idle');
      await page.locator('[data-cell="objectness"] figure svg').waitFor();
      expect(await page.locator('[data-cell="objectness"] svg image[data-level]').count()).toBe(15);
      await page.locator('[data-cell="after"] figure svg').waitFor();
      const caption = () => page.locator('[data-cell="after"] figcaption').textContent();
      const before = await caption();
      expect(before).toMatch(/IoU > 0\.7 suppressed, per level\) and the post-NMS top 4000:/);
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
