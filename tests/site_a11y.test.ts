/**
 * Accessibility of the built site in chromium (issue 5, item 6), with the shared harness of
 * tests/support/site_browser.ts (one build for the file; SITE_E2E_REUSE_BUILD=1 reuses dist/):
 *
 * - axe-core (injected from node_modules) on the home page and on every chapter that is `ready` in
 *   src/site/chapters.ts, after the model has run and the figures are drawn, with every disclosure
 *   open (the figures' text alternatives, the status bar's timings and checkpoint form), under the
 *   WCAG 2.0/2.1/2.2 A and AA rules and axe's best practices: no violation of impact "serious" or
 *   "critical". Every violation found, of any impact, is printed with its nodes.
 * - The keyboard, on every ready chapter: Tab alone reaches every visible control of the page (links,
 *   buttons, inputs, selects, disclosures, focusable figures) in one pass, each with an accessible
 *   name (axe's own name computation), and every slider moves on ArrowRight / ArrowLeft.
 *
 * Chapters run on wasm through the URL (it starts in seconds; tests/site_e2e.test.ts covers WebGPU).
 * Without chromium the suite is skipped with a message, except under CI, where that fails.
 */
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHAPTERS } from '../src/site/chapters.ts';
import { hasChromium, runAfter, siteBrowser } from './support/site_browser.ts';

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
/** WCAG 2.0–2.2 A and AA (2.1: label in name; 2.2: target size) and axe's best practices. */
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'];

interface AxeNode {
  target: string[];
  html: string;
  failureSummary?: string;
}
interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: AxeNode[];
}

interface AxeWindow {
  axe: {
    run(context: Document, options: unknown): Promise<{ violations: AxeViolation[]; passes: unknown[] }>;
    setup(context: Document): void;
    teardown(): void;
    commons: { text: { accessibleText(el: Element): string } };
  };
}

const READY = CHAPTERS.filter((c) => c.ready);


/** After the run: every notebook cell settled (no aria-busy) and at least one figure drawn. */
async function settle(page: Page, isChapter: boolean): Promise<void> {
  if (!isChapter) {
    await page.locator('#status-bar').waitFor();
    return;
  }
  const run = await runAfter(page, 0);
  expect(run.phase, 'the model ran').toBe('idle');
  await page.locator('[data-notebook] figure').first().waitFor();
  await page.waitForFunction(() => document.querySelectorAll('[data-notebook] [data-cell][aria-busy]').length === 0, undefined, { timeout: 30_000, polling: 100 });
}

function describeViolations(page: string, violations: readonly AxeViolation[]): string {
  if (violations.length === 0) return `[a11y] ${page}: no violation`;
  const lines = [`[a11y] ${page}: ${violations.length} violation(s)`];
  for (const v of violations) {
    lines.push(`  ${v.impact ?? 'n/a'} ${v.id}: ${v.help} (${v.nodes.length} node(s))`);
    for (const n of v.nodes.slice(0, 8)) lines.push(`    ${n.target.join(' ')} — ${n.html.slice(0, 160)}${n.failureSummary ? `\n      ${n.failureSummary.replace(/\n/g, ' | ').slice(0, 300)}` : ''}`);
    if (v.nodes.length > 8) lines.push(`    … ${v.nodes.length - 8} more`);
  }
  return lines.join('\n');
}

describe.runIf(hasChromium())('accessibility of the built site in chromium (axe-core, keyboard)', () => {
  const site = siteBrowser();
  beforeAll(site.start);
  afterAll(site.stop);

  it('the home page (/): axe.run(WCAG 2.x A/AA, best-practice) finds no serious or critical violation', async () => {
    const { page, context } = await site.open('/');
    try {
      await settle(page, false);
      expect(await axeSerious(page, 'home')).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it.each(READY.map((c) => ({ n: c.n, path: `/${c.slug}/?backend=wasm` })))(
    'chapter $n ($path) after a run: axe.run(WCAG 2.x A/AA, best-practice) finds no serious or critical violation; Tab alone reaches every visible control, each with an accessible name; ArrowRight/ArrowLeft move every slider',
    async ({ n, path }) => {
      const { page, context } = await site.open(path);
      try {
        await settle(page, true);
        // Soft: the keyboard checks below still run (and report) when axe finds something.
        expect.soft(await axeSerious(page, `chapter ${n} (${path})`), `serious or critical axe violations on ${path}`).toEqual([]);
        await checkKeyboard(page, path);
      } finally {
        await context.close();
      }
    },
  );
});

/** Open every disclosure, run axe, print every violation; return the serious and critical ones. */
async function axeSerious(page: Page, name: string): Promise<string[]> {
  await page.evaluate(() => {
    for (const d of document.querySelectorAll('details')) d.open = true;
  });
  await page.addScriptTag({ path: AXE });
  const violations = await page.evaluate(async (tags) => {
    const { axe } = window as unknown as AxeWindow;
    const result = await axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target.map(String), html: n.html, failureSummary: n.failureSummary })) }));
  }, TAGS);
  console.info(describeViolations(name, violations));
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.impact} ${v.id} (${v.nodes.length}): ${v.nodes.map((x) => x.target.join(' ')).join('; ').slice(0, 300)}`);
}

/** No run in flight and no notebook cell recomputing. */
async function quiet(page: Page): Promise<void> {
  await page.waitForTimeout(150);
  await page.waitForFunction(
    () => window.__maskRcnnLab?.site.session.state.busy === false && document.querySelectorAll('[data-notebook] [data-cell][aria-busy]').length === 0,
    undefined,
    { timeout: 60_000, polling: 100 },
  );
}

async function checkKeyboard(page: Page, path: string): Promise<void> {
  // Every control a reader can operate, tagged so the Tab walk can tick it off.
  const controls = await page.evaluate(() => {
    const selector = 'a[href], button, input, select, textarea, summary, [tabindex]:not([tabindex="-1"])';
    const all = [...document.querySelectorAll<HTMLElement | SVGElement>(selector)].filter((el) => {
      if ((el as HTMLInputElement).disabled || el.closest('[inert]')) return false;
      if ((el as HTMLInputElement).type === 'hidden') return false;
      return el.checkVisibility({ visibilityProperty: true });
    });
    return all.map((el, i) => {
      el.dataset['a11yControl'] = String(i);
      const input = el as HTMLInputElement;
      const where = el.closest('[data-notebook] [data-cell]')?.getAttribute('data-cell') ?? el.closest('section,nav,header,footer,main')?.tagName.toLowerCase() ?? 'page';
      return { i, what: `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${input.type ? `[type=${input.type}]` : ''} in ${where}`, radio: input.type === 'radio' ? input.name : '' };
    });
  });
  expect(controls.length, 'controls on the page').toBeGreaterThan(10);

  // Tab from the top until the focus comes back around (or leaves the page).
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  const reached: number[] = [];
  for (let presses = 0; presses < 1000; presses++) {
    await page.keyboard.press('Tab');
    const at = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      if (el === null || el === document.body) return -1;
      const tag = el.dataset['a11yControl'];
      return tag === undefined ? -2 : Number(tag);
    });
    if (at === -1 || (reached.length > 0 && at === reached[0])) break;
    if (at >= 0) reached.push(at);
  }
  const reachedRadioGroups = new Set(reached.map((i) => controls[i]!.radio).filter((r) => r !== ''));
  const missed = controls.filter((c) => !reached.includes(c.i) && !(c.radio !== '' && reachedRadioGroups.has(c.radio))).map((c) => c.what);
  expect.soft(missed, 'controls Tab never reached').toEqual([]);

  // Each control's accessible name, as axe computes it (axe is on the page already).
  const unnamed = await page.evaluate(() => {
    const { axe } = window as unknown as AxeWindow;
    axe.setup(document);
    try {
      return [...document.querySelectorAll<HTMLElement>('[data-a11y-control]')]
        .filter((el) => axe.commons.text.accessibleText(el).trim() === '')
        .map((el) => `${el.outerHTML.slice(0, 120)} in ${el.closest('[data-cell]')?.getAttribute('data-cell') ?? 'page'}`);
    } finally {
      axe.teardown();
    }
  });
  expect.soft(unnamed, 'controls without an accessible name').toEqual([]);

  // Sliders, by cell and position (a re-run may redraw a cell's controls): focused, an arrow key moves the value toward the side with room.
  const sliders = await page.locator('[data-notebook] input[type=range]').evaluateAll((els) =>
    els.map((el) => {
      const cell = el.closest('[data-cell]')!;
      return { cell: cell.getAttribute('data-cell')!, nth: [...cell.querySelectorAll('input[type=range]')].indexOf(el as HTMLInputElement) };
    }),
  );
  for (const { cell, nth } of sliders) {
    await quiet(page);
    const slider = page.locator(`[data-notebook] [data-cell="${cell}"] input[type=range]`).nth(nth);
    // The value the input event carried (the cell may redraw the slider right after).
    const before = await slider.evaluate((el: HTMLInputElement) => {
      const w = window as unknown as { a11yInput?: number | null };
      w.a11yInput = null;
      el.addEventListener('input', () => (w.a11yInput = Number(el.value)), { once: true });
      return { v: Number(el.value), max: Number(el.max), min: Number(el.min), label: el.getAttribute('aria-label') ?? el.id };
    });
    if (before.max <= before.min) continue;
    const key = before.v < before.max ? 'ArrowRight' : 'ArrowLeft';
    await slider.focus();
    await page.keyboard.press(key);
    const fired = () => page.evaluate(() => (window as unknown as { a11yInput: number | null }).a11yInput);
    await expect.poll(fired, { message: `${before.label} (${cell}): ${key} fires input`, timeout: 2000 }).not.toBeNull();
    const after = (await fired())!;
    expect(key === 'ArrowRight' ? after > before.v : after < before.v, `${before.label} (${cell}): ${key} moves ${before.v} → ${after}`).toBe(true);
  }
  console.info(`[a11y] ${path}: Tab reached ${reached.length} of ${controls.length} controls; ${sliders.length} slider(s) moved by arrow keys`);
}
