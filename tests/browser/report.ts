/** What the browser test page (page.ts) hands back to the Node side (tests/backends_browser.test.ts): plain JSON. */

export const PAGE_BACKENDS = ['wasm', 'cpu', 'webgl', 'webgpu'] as const;
export type PageBackend = (typeof PAGE_BACKENDS)[number];

/** One tiny-model run on one backend. */
export interface BackendRun {
  backend: PageBackend;
  /** what tf.setBackend returned */
  setBackendOk: boolean;
  /** tf.getBackend() after setBackend and after the run */
  activeBefore: string;
  activeAfter: string;
  /** [D, 4] flattened, original image pixels */
  boxes: number[];
  labels: number[];
  scores: number[];
  /** dump 'fpn_0' (C×H×W) */
  fpn0: number[];
  fpn0Shape: number[];
  /** tf.memory().numTensors before creating the model and after disposing the model and trace */
  tensorsBefore: number;
  tensorsAfter: number;
  ms: number;
  /** backend facts: webgl float32 render targets and version; webgpu adapter */
  facts: Record<string, string | number | boolean>;
}

/** One RoI op on one GPU backend against the CPU twin (same inputs). */
export interface KernelCheck {
  backend: 'webgl' | 'webgpu';
  op: string;
  /** output length (K·PH·PW·C) */
  size: number;
  maxAbsDiff: number;
  /** elements that differ at all */
  mismatches: number;
  /** largest |cpu value| (scale of maxAbsDiff) */
  maxAbs: number;
}

/** What a GPU backend's RoI kernel said to RoIs with a bad batch index or level (host-side values). */
export interface KernelRefusal {
  backend: 'webgl' | 'webgpu';
  op: string;
  /** error name and message, or 'no error' */
  error: string;
}

export interface PageReport {
  userAgent: string;
  crossOriginIsolated: boolean;
  runs: BackendRun[];
  kernels: KernelCheck[];
  refusals: KernelRefusal[];
  ms: number;
}

declare global {
  interface Window {
    /** Runs everything; resolves to the report (rejects with the first error). */
    runBrowserTest?: () => Promise<PageReport>;
  }
}
