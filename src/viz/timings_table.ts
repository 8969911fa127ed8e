/** `timingsTable(data) → <table>`: per stage, its time in the last run or "reused" (text alternative of the stage diagram). */
import type { StageName } from '../model.ts';
import { formatMs } from './stage_diagram.ts';
import { table } from './svg.ts';

export interface TimingsData {
  stages: readonly StageName[];
  timings: Partial<Record<StageName, number>>;
  labels: Readonly<Record<StageName, string>>;
}

export function timingsTable(data: TimingsData, caption = 'Time of each stage in the last run'): HTMLTableElement {
  let total = 0;
  const rows = data.stages.map((s) => {
    const ms = data.timings[s];
    if (ms !== undefined) total += ms;
    return [data.labels[s], ms === undefined ? 'reused' : formatMs(ms)];
  });
  rows.push(['total of computed stages', formatMs(total)]);
  return table(caption, ['stage', 'time'], rows);
}
