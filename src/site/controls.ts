/**
 * Controls the notebooks use, bound to the URL: each is an `@observablehq/inputs` element (a
 * labelled native input, keyboard-operable) or a small form with the same `value` + `input`
 * event contract, so `view(control)` in a notebook cell gives its value as a generator.
 */
import * as Inputs from '@observablehq/inputs';
import { getNumberParam, getParam, setParams } from './url_state.ts';
import { SAMPLES, type Sample, loadImageFile, loadSample } from './images.ts';
import type { ImageInput } from './session.ts';

export interface RangeParamOptions {
  label: string;
  /** Default when the URL has no valid value. */
  value: number;
  step?: number;
  /** Extra text under the control. */
  help?: string;
}

/** `Inputs.range` whose value starts from `?key=` and is written back to the URL on every change. */
export function rangeParam(key: string, extent: [number, number], options: RangeParamOptions): Inputs.InputElement<number> {
  const value = getNumberParam(key, extent[0], extent[1], options.value);
  const input = Inputs.range(extent, { label: options.label, value, step: options.step ?? 1 });
  input.dataset['param'] = key;
  // Inputs labels the number box; give the slider the same accessible name.
  input.querySelector('input[type=range]')?.setAttribute('aria-label', options.label);
  input.addEventListener('input', () => setParams({ [key]: input.value === options.value ? null : input.value }));
  if (options.help) {
    const p = input.appendChild(document.createElement('div'));
    p.className = 'control-help';
    p.textContent = options.help;
  }
  return input;
}

export interface ImagePickerElement extends HTMLElement {
  /** The current image, or undefined until the first one is decoded. */
  value: ImageInput | undefined;
}

/**
 * Pick a bundled sample or upload an image (`?image=` names the sample). The element's value changes
 * (and it fires `input`) once the new image is decoded; a bad file leaves the old image and shows why.
 */
export function imagePicker(base: string, samples: readonly Sample[] = SAMPLES): ImagePickerElement {
  const form = document.createElement('form') as unknown as ImagePickerElement & HTMLFormElement;
  form.className = 'image-picker';
  form.value = undefined;
  form.addEventListener('submit', (e) => e.preventDefault());
  const id = `image-picker-${Math.random().toString(36).slice(2, 8)}`;
  const label = form.appendChild(document.createElement('label'));
  label.htmlFor = `${id}-sample`;
  label.textContent = 'Image';
  const select = form.appendChild(document.createElement('select'));
  select.id = `${id}-sample`;
  select.name = 'image';
  for (const s of samples) select.append(new Option(s.label, s.id));
  const upload = select.appendChild(new Option('your own image…', ''));
  upload.disabled = true;
  const fileLabel = form.appendChild(document.createElement('label'));
  fileLabel.className = 'file-button';
  fileLabel.textContent = 'Upload an image';
  const file = fileLabel.appendChild(document.createElement('input'));
  file.type = 'file';
  file.accept = 'image/*';
  file.name = 'image-file';
  const message = form.appendChild(document.createElement('p'));
  message.className = 'picker-message';
  message.setAttribute('role', 'status');
  message.setAttribute('aria-live', 'polite');

  let token = 0;
  const set = async (load: () => Promise<ImageInput>, onError?: () => void) => {
    const mine = ++token;
    message.textContent = 'decoding…';
    message.classList.remove('error');
    try {
      const img = await load();
      if (mine !== token) return;
      form.value = img;
      message.textContent = `${img.label}: ${img.image.width}×${img.image.height}`;
      form.dispatchEvent(new Event('input', { bubbles: true }));
    } catch (e) {
      if (mine !== token) return;
      message.textContent = (e as Error).message;
      message.classList.add('error');
      message.setAttribute('role', 'alert');
      onError?.();
    }
  };
  const chooseSample = (sampleId: string) => {
    const s = samples.find((x) => x.id === sampleId) ?? samples[0]!;
    select.value = s.id;
    setParams({ image: s.id === samples[0]!.id ? null : s.id });
    void set(() => loadSample(s, base));
  };
  select.addEventListener('change', () => chooseSample(select.value));
  file.addEventListener('change', () => {
    const f = file.files?.[0];
    if (!f) return;
    const previous = select.value;
    upload.textContent = f.name;
    select.value = '';
    setParams({ image: null });
    void set(
      () => loadImageFile(f),
      () => {
        select.value = previous;
      },
    );
    file.value = '';
  });
  // Stop the native `input` events of the inner controls from reaching `view()` before decoding.
  select.addEventListener('input', (e) => e.stopPropagation());
  file.addEventListener('input', (e) => e.stopPropagation());
  chooseSample(getParam('image') ?? samples[0]!.id);
  return form;
}

/** `Inputs.select` over `choices` whose value starts from `?key=` (matched by `String(choice)`) and is written back. */
export function choiceParam<T extends string | number>(key: string, choices: readonly T[], options: { label: string; value: T; format?: (x: T) => string }): Inputs.InputElement<T> {
  const raw = getParam(key);
  const value = choices.find((c) => String(c) === raw) ?? options.value;
  const input = Inputs.select(choices, { label: options.label, value, format: options.format });
  input.dataset['param'] = key;
  input.addEventListener('input', () => setParams({ [key]: input.value === options.value ? null : String(input.value) }));
  return input;
}
