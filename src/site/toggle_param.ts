/**
 * `toggleParam(key, options)`: an `@observablehq/inputs` checkbox toggle (a labelled native input,
 * keyboard-operable) whose value starts from `?key=true|false` and is written back to the URL, like
 * `rangeParam` and `choiceParam` in controls.ts.
 */
import * as Inputs from '@observablehq/inputs';
import { getParam, setParams } from './url_state.ts';

export interface ToggleParamOptions {
  label: string;
  /** Default when the URL has no valid value. */
  value: boolean;
  /** Extra text under the control. */
  help?: string;
}

/** `true`/`1` → true, `false`/`0` → false, anything else → null. */
export function parseBoolean(raw: string | null): boolean | null {
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  return null;
}

export function toggleParam(key: string, options: ToggleParamOptions): Inputs.InputElement<boolean> {
  const value = parseBoolean(getParam(key)) ?? options.value;
  const input = Inputs.toggle({ label: options.label, value });
  input.dataset['param'] = key;
  input.addEventListener('input', () => setParams({ [key]: input.value === options.value ? null : String(input.value) }));
  if (options.help) {
    const p = input.appendChild(document.createElement('div'));
    p.className = 'control-help';
    p.textContent = options.help;
  }
  return input;
}
