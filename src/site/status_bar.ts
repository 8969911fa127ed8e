/**
 * Binds the status bar (src/components/StatusBar.astro) to the page's session: the backend in use
 * and why, with a switch; the model in use, a picker, a checkpoint file input and the loading
 * progress; the last run's time per stage and which stages it recomputed; errors.
 */
import { STAGES } from '../model.ts';
import { STAGE_LABELS } from './chapters.ts';
import { BACKEND_LABELS, type BackendRequest, isBackendRequest } from './backend.ts';
import { CHECKPOINT_PRESETS } from './models.ts';
import { site } from './app.ts';
import { getParam } from './url_state.ts';
import { formatMs } from '../viz/stage_diagram.ts';
import { timingsTable } from '../viz/timings_table.ts';

function $<T extends HTMLElement>(root: ParentNode, sel: string): T {
  const el = root.querySelector<T>(sel);
  if (el === null) throw new Error(`status bar: ${sel} is missing from the page`);
  return el;
}

export function bindStatusBar(root: HTMLElement): void {
  const lab = site();
  const backendSelect = $<HTMLSelectElement>(root, '#backend-select');
  const backendUsed = $<HTMLElement>(root, '[data-status="backend"]');
  const backendReason = $<HTMLElement>(root, '[data-status="backend-reason"]');
  const modelSelect = $<HTMLSelectElement>(root, '#model-select');
  const modelNote = $<HTMLElement>(root, '[data-status="model"]');
  const presetSelect = $<HTMLSelectElement>(root, '#checkpoint-preset');
  const fileInput = $<HTMLInputElement>(root, '#checkpoint-file');
  const progress = $<HTMLProgressElement>(root, '#model-progress');
  const phase = $<HTMLElement>(root, '[data-status="phase"]');
  const error = $<HTMLElement>(root, '[data-status="error"]');
  const runSummary = $<HTMLElement>(root, '[data-status="run"]');
  const runTable = $<HTMLElement>(root, '[data-status="timings"]');

  const requested = getParam('backend');
  backendSelect.value = isBackendRequest(requested) ? requested : 'auto';
  backendSelect.addEventListener('change', () => lab.useBackend(backendSelect.value as BackendRequest));

  for (const m of lab.models) modelSelect.append(new Option(`${m.about.label ?? m.id}${m.about.placeholder ? ' — untrained placeholder' : ''}`, m.id));
  const fromDisk = modelSelect.appendChild(new Option('checkpoint from disk', 'file'));
  fromDisk.disabled = true;
  modelSelect.value = getParam('model') ?? lab.models[0]?.id ?? '';
  /** Back to the model in use (after a model or checkpoint that failed to load). */
  const showModelInUse = () => {
    const id = lab.session.state.model?.id;
    if (id === undefined) return;
    if (id.startsWith('file:')) {
      fromDisk.textContent = id.slice(5);
      modelSelect.value = 'file';
    } else modelSelect.value = id;
  };
  modelSelect.addEventListener('change', () => {
    if (modelSelect.value !== 'file') void lab.useModel(modelSelect.value).catch(showModelInUse);
  });
  for (const p of CHECKPOINT_PRESETS) presetSelect.append(new Option(p.label, p.id));
  fileInput.addEventListener('change', () => {
    const f = fileInput.files?.[0];
    if (!f) return;
    fromDisk.textContent = f.name;
    modelSelect.value = 'file';
    void lab.useCheckpointFile(f, presetSelect.value).catch(showModelInUse);
    fileInput.value = '';
  });

  lab.session.onStatus((s) => {
    root.dataset['phase'] = s.phase;
    root.dataset['busy'] = String(s.busy);
    if (s.backend) {
      backendUsed.textContent = BACKEND_LABELS[s.backend.backend];
      backendUsed.dataset['backend'] = s.backend.backend;
      backendReason.textContent = s.backend.reason;
    } else {
      backendUsed.textContent = 'starting…';
    }
    if (s.model) {
      modelNote.textContent = s.model.placeholder ? `${s.model.label}: its detections are random, not a trained model's` : s.model.description || s.model.label;
      modelNote.title = modelNote.textContent; // the line is cut to one row with an ellipsis (site.css); hover shows it whole
      modelNote.classList.toggle('placeholder', s.model.placeholder);
      root.dataset['model'] = s.model.id;
    }
    if (s.phase === 'loading' && s.progress) {
      progress.hidden = false;
      progress.max = s.progress.total;
      progress.value = s.progress.loaded;
      progress.textContent = `${Math.round((100 * s.progress.loaded) / Math.max(1, s.progress.total))}%`;
    } else if (s.phase === 'building' || s.phase === 'backend') {
      progress.hidden = false;
      progress.removeAttribute('value');
    } else progress.hidden = true;
    phase.textContent = s.busy && s.phase === 'idle' ? 'running…' : s.message;
    error.textContent = s.error ?? '';
    error.hidden = !s.error;
    if (s.last) {
      const last = s.last;
      const n = last.computed.length;
      runSummary.textContent = `Last run (${last.image.label}): ${formatMs(last.totalMs)}, ${n} of ${STAGES.length} stages computed${n < STAGES.length ? ` (from ${STAGE_LABELS[last.computed[0]!] ?? '—'} on; the rest reused)` : ''}`;
      runSummary.dataset['computed'] = last.computed.join(',');
      runSummary.dataset['seq'] = String(last.seq);
      runTable.replaceChildren(timingsTable({ stages: STAGES, timings: last.timings, labels: STAGE_LABELS }));
    }
  });
}
