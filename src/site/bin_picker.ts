/**
 * `binPicker(outputSize, options)`: choose one bin (row, column) of a RoI's PH×PW output with two
 * labelled sliders (keyboard: arrows), or from a figure by calling `choose(ph, pw)` (chapter 7 makes
 * its bins clickable). Value `[ph, pw]`, an `input` event on change, `?bin=ph,pw` in the URL.
 * `setSize(n)` follows a new output size in place (the sliders stay, so focus and URL survive).
 */
import * as Inputs from '@observablehq/inputs';
import { getParam, setParams } from './url_state.ts';

export interface BinPickerElement extends HTMLElement {
  value: [number, number];
  /** Choose a bin (clamped into the grid), as if the reader had moved the sliders. */
  choose(ph: number, pw: number): void;
  /** A new output size: the sliders' range becomes 0…n−1 and the value is clamped into it (an `input` event if it changed). */
  setSize(n: number): void;
}

/** `?bin=ph,pw` within an `outputSize`×`outputSize` grid, else null. */
export function parseBin(raw: string | null, outputSize: number): [number, number] | null {
  const m = /^(\d+),(\d+)$/.exec(raw ?? '');
  if (!m) return null;
  const ph = Number(m[1]);
  const pw = Number(m[2]);
  return ph < outputSize && pw < outputSize ? [ph, pw] : null;
}

const middle = (n: number): [number, number] => [Math.floor((n - 1) / 2), Math.floor((n - 1) / 2)];

export function binPicker(outputSize: number, options: { key?: string } = {}): BinPickerElement {
  const key = options.key ?? 'bin';
  let size = outputSize;
  const fromUrl = parseBin(getParam(key), size);
  // Until the reader picks a bin, the middle one (also after a new output size).
  let picked = fromUrl !== null;
  const start = fromUrl ?? middle(size);
  const form = document.createElement('div') as unknown as BinPickerElement & HTMLDivElement;
  form.className = 'bin-picker';
  const row = Inputs.range([0, Math.max(size - 1, 0)], { label: 'Chosen bin: row', value: start[0], step: 1 });
  const col = Inputs.range([0, Math.max(size - 1, 0)], { label: 'Chosen bin: column', value: start[1], step: 1 });
  row.querySelector('input[type=range]')?.setAttribute('aria-label', 'Chosen bin: row');
  col.querySelector('input[type=range]')?.setAttribute('aria-label', 'Chosen bin: column');
  form.append(row, col);
  form.value = [start[0], start[1]];
  const publish = () => {
    form.value = [row.value, col.value];
    const d = middle(size);
    setParams({ [key]: form.value[0] === d[0] && form.value[1] === d[1] ? null : form.value.join(',') });
    form.dispatchEvent(new Event('input', { bubbles: true }));
  };
  form.addEventListener('input', (e) => {
    if (e.target === form) return;
    e.stopPropagation();
    picked = true;
    publish();
  });
  const set = (ph: number, pw: number) => {
    row.value = Math.min(Math.max(ph, 0), size - 1);
    col.value = Math.min(Math.max(pw, 0), size - 1);
    publish();
  };
  form.choose = (ph, pw) => {
    picked = true;
    set(ph, pw);
  };
  form.setSize = (n) => {
    if (n === size) return;
    size = n;
    for (const input of form.querySelectorAll<HTMLInputElement>('input')) input.max = String(Math.max(n - 1, 0));
    const [ph, pw] = form.value;
    if (!picked) set(...middle(n));
    else if (ph > n - 1 || pw > n - 1) set(ph, pw);
  };
  return form;
}
