/**
 * The page's one engine session and what feeds it: the backend (`?backend=`), the model
 * (`?model=`, else the first of the build-time index), and a checkpoint the reader picks. Every
 * notebook cell and the status bar import `site()` and so share the same session.
 */
import { type BackendRequest, chooseBackend, gpuLostReason, isBackendRequest, numTensors, onGpuDeviceLost, webGpuDevice } from './backend.ts';
import { CHECKPOINT_PRESETS, type LoadedWeights, type ModelIndexEntry, loadCheckpointFile, loadIndexedModel, readModelIndex } from './models.ts';
import { EngineSession } from './session.ts';
import { getParam, setParams } from './url_state.ts';

export interface Site {
  session: EngineSession;
  /** The site's base URL (Astro `base`), ending in '/'. */
  base: string;
  models: ModelIndexEntry[];
  /** Load a model of the index by id (progress goes to the status bar). */
  useModel(id: string): Promise<void>;
  /** Convert and use a checkpoint from disk (its architecture read from its shapes; the preset may set the FrozenBN eps). */
  useCheckpointFile(file: File, presetId: string): Promise<void>;
  useBackend(request: BackendRequest): void;
}

declare global {
  interface Window {
    /** For the end-to-end tests and the curious: the session, tfjs's tensor count, the WebGPU device in use. */
    __maskRcnnLab?: { site: Site; numTensors: () => number; gpuDevice: () => GPUDevice | undefined };
  }
}

let instance: Site | undefined;

function baseUrl(): string {
  const b = import.meta.env.BASE_URL ?? '/';
  return b.endsWith('/') ? b : `${b}/`;
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;

function createSite(): Site {
  const session = new EngineSession({ chooseBackend, gpuLostReason: () => gpuLostReason() });
  const base = baseUrl();
  const models = readModelIndex();
  let loadToken = 0;

  const useWeights = async (load: (progress: (l: number, t: number) => void) => Promise<LoadedWeights>, what: string) => {
    const mine = ++loadToken;
    session.reportLoading(`loading ${what}`, { loaded: 0, total: 1 });
    try {
      const weights = await load((loaded, total) => {
        if (mine === loadToken) session.reportLoading(`loading ${what}: ${mb(loaded)} of ${mb(total)}`, { loaded, total });
      });
      if (mine !== loadToken) return;
      session.request({ weights });
    } catch (e) {
      if (mine === loadToken) session.reportError((e as Error).message);
      throw e;
    }
  };

  const site: Site = {
    session,
    base,
    models,
    async useModel(id) {
      const entry = models.find((m) => m.id === id);
      if (entry === undefined) {
        session.reportError(`no model '${id}' on this site; the models are: ${models.map((m) => m.id).join(', ') || '(none: put one in public/models/)'}`);
        return;
      }
      setParams({ model: entry === models[0] ? null : entry.id });
      await useWeights((p) => loadIndexedModel(entry, base, p), entry.about.label ?? entry.id);
    },
    async useCheckpointFile(file, presetId) {
      const preset = CHECKPOINT_PRESETS.find((p) => p.id === presetId) ?? CHECKPOINT_PRESETS[0]!;
      await useWeights((p) => loadCheckpointFile(file, preset, p, models), file.name);
      setParams({ model: null });
    },
    useBackend(request) {
      setParams({ backend: request === 'auto' ? null : request });
      session.request({ backend: request });
    },
  };

  const requested = getParam('backend');
  session.request({ backend: isBackendRequest(requested) ? requested : 'auto' });
  const first = getParam('model') ?? models[0]?.id;
  if (first !== undefined) site.useModel(first).catch(() => {});
  else session.reportError('this site has no model: convert one into public/models/NAME/ (npm run convert) and rebuild');
  onGpuDeviceLost((reason) => session.gpuLost(reason));
  window.__maskRcnnLab = { site, numTensors, gpuDevice: webGpuDevice };
  return site;
}

/** The page's site (created on first use). */
export function site(): Site {
  instance ??= createSite();
  return instance;
}
