/**
 * Controls of the ablation chapter (chapter 12): the list of pooler models with their loading
 * progress, and the live evaluation ("evaluate N validation scenes here"): a labelled number input
 * (`?n=`), a start button, a cancel button, a progress bar and a status line. Its element's `value`
 * is the last finished evaluation (or null), announced with an `input` event, so `view()` in a
 * notebook cell gives it as a generator.
 */
import type { Pooler } from '../config.ts';
import type { ModelStatus } from './ablation_runner.ts';
import type { EvalReportData } from './ablation_view.ts';
import { getNumberParam, setParams } from './url_state.ts';

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;

/** The models the chapter compares, each with its state (loading with a progress bar, ready, failed). */
export function modelStatusList(
  entries: ReadonlyArray<{ id: string; label: string; pooler: Pooler; placeholder: boolean }>,
  poolerName: (p: Pooler) => string,
  subscribe: (fn: (s: ModelStatus[]) => void) => () => void,
): HTMLElement & { stop(): void } {
  const list = document.createElement('ul') as unknown as HTMLUListElement & { stop(): void };
  list.className = 'ablation-models';
  const items = new Map<string, { state: HTMLElement; bar: HTMLProgressElement }>();
  for (const e of entries) {
    const li = list.appendChild(document.createElement('li'));
    li.dataset['modelId'] = e.id;
    const name = li.appendChild(document.createElement('strong'));
    name.textContent = `${poolerName(e.pooler)}: `;
    li.append(`${e.label} (public/models/${e.id}/)${e.placeholder ? ' — a placeholder, not the trained model' : ''} `);
    const state = li.appendChild(document.createElement('span'));
    state.className = 'ablation-model-state';
    state.setAttribute('role', 'status');
    const bar = li.appendChild(document.createElement('progress'));
    bar.hidden = true;
    bar.setAttribute('aria-label', `${e.label}: weights loaded`);
    items.set(e.id, { state, bar });
  }
  list.stop = subscribe((all) => {
    for (const s of all) {
      const item = items.get(s.id);
      if (item === undefined) continue;
      item.state.dataset['phase'] = s.phase;
      item.bar.hidden = s.phase !== 'loading';
      if (s.phase === 'loading') {
        item.bar.max = Math.max(1, s.total ?? 1);
        item.bar.value = s.loaded ?? 0;
        item.state.textContent = `loading ${mb(s.loaded ?? 0)} of ${mb(s.total ?? 0)}`;
      } else if (s.phase === 'ready') item.state.textContent = 'loaded';
      else if (s.phase === 'error') item.state.textContent = `failed to load: ${s.error}`;
      else item.state.textContent = 'not loaded yet';
    }
  }) as () => void;
  return list;
}

/** A finished live evaluation. */
export interface LiveEvaluationResult {
  reports: Map<string, EvalReportData>;
  seeds: { first: number; last: number };
  ms: number;
}

export interface EvaluationControlOptions {
  /** Runs the evaluation of `n` scenes; reports (done, total) runs; rejects with an AbortedError when cancelled. */
  evaluate: (n: number, signal: AbortSignal, onProgress: (done: number, total: number) => void) => Promise<LiveEvaluationResult>;
  /** Default and range of n. */
  value?: number;
  min?: number;
  max?: number;
  /** URL key of n (default `n`). */
  key?: string;
}

export interface EvaluationControlElement extends HTMLElement {
  value: LiveEvaluationResult | null;
  /** Cancel the evaluation in progress, if any. */
  cancel(): void;
}

/** "Evaluate N validation scenes here": start, cancel, progress, outcome. */
export function evaluationControl(options: EvaluationControlOptions): EvaluationControlElement {
  const key = options.key ?? 'n';
  const min = options.min ?? 2;
  const max = options.max ?? 100;
  const fallback = options.value ?? 20;
  const form = document.createElement('form') as unknown as EvaluationControlElement & HTMLFormElement;
  form.className = 'ablation-eval';
  form.value = null;
  const id = `ablation-eval-${Math.random().toString(36).slice(2, 8)}`;
  const label = form.appendChild(document.createElement('label'));
  label.htmlFor = `${id}-n`;
  label.textContent = 'Validation scenes';
  const input = form.appendChild(document.createElement('input'));
  input.type = 'number';
  input.id = `${id}-n`;
  input.name = key;
  input.min = String(min);
  input.max = String(max);
  input.step = '1';
  input.value = String(getNumberParam(key, min, max, fallback));
  const start = form.appendChild(document.createElement('button'));
  start.type = 'submit';
  start.dataset['action'] = 'evaluate';
  const cancel = form.appendChild(document.createElement('button'));
  cancel.type = 'button';
  cancel.textContent = 'Cancel';
  cancel.dataset['action'] = 'cancel';
  cancel.disabled = true;
  const bar = form.appendChild(document.createElement('progress'));
  bar.hidden = true;
  bar.setAttribute('aria-label', 'Evaluation progress');
  const note = form.appendChild(document.createElement('p'));
  note.className = 'ablation-eval__status';
  note.setAttribute('role', 'status');
  note.setAttribute('aria-live', 'polite');

  const n = () => {
    const v = Math.round(Number(input.value));
    return Number.isFinite(v) ? Math.max(min, Math.min(max, v)) : fallback;
  };
  const label2 = () => {
    start.textContent = `Evaluate ${n()} validation scenes here`;
  };
  label2();
  // The number box's own input events are not this control's value.
  input.addEventListener('input', (e) => {
    e.stopPropagation();
    label2();
    setParams({ [key]: n() === fallback ? null : n() });
  });

  let controller: AbortController | undefined;
  form.cancel = () => controller?.abort();
  cancel.addEventListener('click', () => form.cancel());
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (controller !== undefined) return;
    const mine = (controller = new AbortController());
    const count = n();
    start.disabled = true;
    cancel.disabled = false;
    bar.hidden = false;
    bar.value = 0;
    bar.max = 1;
    note.classList.remove('error');
    note.textContent = `evaluating ${count} scenes…`;
    const t0 = performance.now();
    options
      .evaluate(count, mine.signal, (done, total) => {
        bar.max = Math.max(1, total);
        bar.value = done;
        note.textContent = `${done} of ${total} runs (${count} scenes × ${total / count} models), ${((performance.now() - t0) / 1000).toFixed(1)} s`;
      })
      .then(
        (result) => {
          form.value = result;
          note.textContent = `evaluated scenes ${result.seeds.first}–${result.seeds.last} in ${(result.ms / 1000).toFixed(1)} s: the rows “in this browser” of the AP table`;
          form.dispatchEvent(new Event('input', { bubbles: true }));
        },
        (err: unknown) => {
          const cancelled = mine.signal.aborted;
          note.textContent = cancelled ? 'cancelled; nothing was kept' : `the evaluation failed: ${(err as Error).message}`;
          note.classList.toggle('error', !cancelled);
        },
      )
      .finally(() => {
        controller = undefined;
        start.disabled = false;
        cancel.disabled = true;
        bar.hidden = true;
      });
  });
  return form;
}
