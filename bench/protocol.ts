/**
 * What a benchmark worker process says to `bench/run.ts`: one JSON object per stdout line.
 *
 *   stage   a stage of run `run` finished in `ms` (ours only; lets a stopped cpu run show how far it got)
 *   first   the first inference returned (the parent times process start → first result from it)
 *   run     one whole inference: per-stage ms (ours: the trace's `timings`) and its wall time
 *   done    load time, detections of the first run, optional profile; the worker then exits
 */

/** Detections in original-image pixels: boxes flat [x1, y1, x2, y2, …]. */
export interface Detections {
  boxes: number[];
  labels: number[];
  scores: number[];
}

/** One kernel row of a tf.profile summary. */
export interface KernelRow {
  /** Our stage the kernel ran in. */
  stage: string;
  kernel: string;
  /** Input shapes of the first call, e.g. `1x200x272x256 3x3x256x256 256`. */
  shapes: string;
  calls: number;
  ms: number;
  /** Multiply-adds × 2 of all calls, when known (conv, matmul). */
  flops: number;
}

export interface Profile {
  /** Wall time of the profiled run (slower than an unprofiled one). */
  wallMs: number;
  /** Sum of kernel times per stage. */
  kernelMsByStage: Record<string, number>;
  /** Per stage: wall ms of the stage in the profiled run. */
  stageMs: Record<string, number>;
  /** Kernels aggregated by (stage, kernel, shapes), slowest first. */
  rows: KernelRow[];
  /** Kernel-name totals over the whole run. */
  byKernel: { kernel: string; calls: number; ms: number; flops: number }[];
}

export type WorkerEvent =
  | { event: 'stage'; run: number; stage: string; ms: number }
  | { event: 'first' }
  | { event: 'run'; run: number; stages: Record<string, number>; wallMs: number }
  | {
      event: 'done';
      engine: string;
      /** Process start → model ready (imports, backend init, weights read, model build / session create). */
      loadMs: number;
      detections: Detections;
      info: Record<string, string | number>;
      profile?: Profile;
    }
  | { event: 'error'; message: string };

export function emit(e: WorkerEvent): void {
  process.stdout.write(`${JSON.stringify(e)}\n`);
}

/**
 * Call `onEvent` with each JSON object a worker writes to `stream`, one per line, as the lines
 * arrive (chunks are joined; lines that do not start with `{`, such as a library's log, are skipped).
 */
export function onJsonLines<E>(stream: NodeJS.ReadableStream, onEvent: (event: E) => void): void {
  let buffered = '';
  stream.on('data', (d: Buffer | string) => {
    buffered += d.toString();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (line.startsWith('{')) onEvent(JSON.parse(line) as E);
    }
  });
}
