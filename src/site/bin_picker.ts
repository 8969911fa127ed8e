/**
 * `binPicker(outputSize, options)`: choose one bin (row, column) of a RoI's PH×PW output with two
 * labelled sliders (keyboard: arrows), or from a figure by calling `choose(ph, pw)` (chapter 7 makes
 * its RoIAlign bins clickable). Value `[ph, pw]`, an `input` event on change, `?bin=ph,pw` in the URL.
 */
import * as Inputs from '@observablehq/inputs';
import { getParam, setParams } from './url_state.ts';

export interface BinPickerElement extends HTMLElement {
  value: [number, number];
  /** Choose a bin (clamped into the grid), as if the reader had moved the sliders. */
  choose(ph: number, pw: number): void;
}

/** `?bin=ph,pw` within an `outputSize`×`outputSize` grid, else null. */
export function parseBin(raw: string | null, outputSize: number): [number, number] | null {
  const m = /^(\d+),(\d+)$/.exec(raw ?? '');
  if (!m) return null;
  const ph = Number(m[1]);
  const pw = Number(m[2]);
  return ph < outputSize && pw < outputSize ? [ph, pw] : null;
}

export function binPicker(outputSize: number, options: { key?: string; value?: [number, number] } = {}): BinPickerElement {
  const key = options.key ?? 'bin';
  const fallback = options.value ?? [Math.floor((outputSize - 1) / 2), Math.floor((outputSize - 1) / 2)];
  const start = parseBin(getParam(key), outputSize) ?? fallback;
  const form = document.createElement('div') as unknown as BinPickerElement & HTMLDivElement;
  form.className = 'bin-picker';
  const max = Math.max(outputSize - 1, 0);
  const row = Inputs.range([0, max], { label: 'Chosen bin: row', value: start[0], step: 1 });
  const col = Inputs.range([0, max], { label: 'Chosen bin: column', value: start[1], step: 1 });
  row.querySelector('input[type=range]')?.setAttribute('aria-label', 'Chosen bin: row');
  col.querySelector('input[type=range]')?.setAttribute('aria-label', 'Chosen bin: column');
  form.append(row, col);
  form.value = [start[0], start[1]];
  const publish = () => {
    form.value = [row.value, col.value];
    setParams({ [key]: form.value[0] === fallback[0] && form.value[1] === fallback[1] ? null : form.value.join(',') });
    form.dispatchEvent(new Event('input', { bubbles: true }));
  };
  form.addEventListener('input', (e) => {
    if (e.target === form) return;
    e.stopPropagation();
    publish();
  });
  form.choose = (ph, pw) => {
    row.value = Math.min(Math.max(ph, 0), max);
    col.value = Math.min(Math.max(pw, 0), max);
    publish();
  };
  return form;
}
