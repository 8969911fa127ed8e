/**
 * Optimizers and the learning-rate schedule, on tf.Variables (torch semantics), with global-norm
 * gradient clipping and a state that saves and restores exactly.
 *
 * Glossary
 *   SGD        torch `SGD(momentum, weight_decay)`: g ← g + λ·w; buf ← μ·buf + g; w ← w − lr·buf
 *   AdamW      torch `AdamW`: m ← β1·m + (1 − β1)·g; v ← β2·v + (1 − β2)·g²;
 *              w ← w − lr·(m̂/(√v̂ + ε) + λ·w), m̂ = m/(1 − β1^t), v̂ = v/(1 − β2^t)
 *   λ          weight decay, on conv/linear weights only (not biases, not BN γ/β: decaying those
 *              only fights the normalization)
 *   clip       if ‖g‖₂ over all parameters exceeds clipNorm, every g is scaled by clipNorm/‖g‖₂
 *   schedule   linear warm-up from warmupFactor·lr to lr over warmupSteps, then cosine decay to
 *              minLrFactor·lr at `steps`, or steps ×0.1 at the given fractions of `steps`
 */
import * as tf from '@tensorflow/tfjs-core';

export interface OptimizerConfig {
  kind: 'sgd' | 'adamw';
  lr: number;
  momentum: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 0 = no clipping */
  clipNorm: number;
  warmupSteps: number;
  warmupFactor: number;
  schedule: 'cosine' | 'step';
  /** step schedule: fractions of the total steps where lr drops ×0.1 */
  milestones: number[];
  minLrFactor: number;
}

export function defaultOptimizerConfig(): OptimizerConfig {
  return {
    kind: 'sgd',
    lr: 0.02,
    momentum: 0.9,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    weightDecay: 1e-4,
    clipNorm: 10,
    warmupSteps: 200,
    warmupFactor: 0.001,
    schedule: 'cosine',
    milestones: [0.75, 0.9],
    minLrFactor: 0.01,
  };
}

/** The learning rate of 0-based step `step` of `totalSteps`. */
export function learningRate(cfg: OptimizerConfig, step: number, totalSteps: number): number {
  let factor: number;
  if (cfg.schedule === 'cosine') {
    const t = Math.min(Math.max(step / Math.max(totalSteps, 1), 0), 1);
    factor = cfg.minLrFactor + (1 - cfg.minLrFactor) * 0.5 * (1 + Math.cos(Math.PI * t));
  } else {
    factor = 0.1 ** cfg.milestones.filter((m) => step >= m * totalSteps).length;
  }
  if (step < cfg.warmupSteps) {
    const alpha = step / cfg.warmupSteps;
    factor *= cfg.warmupFactor * (1 - alpha) + alpha;
  }
  return cfg.lr * factor;
}

/** A named trainable parameter, as the optimizer sees it. */
export interface OptimizedParam {
  name: string;
  variable: tf.Variable;
  decay: boolean;
}

/** Buffers per parameter name, in our layout: SGD `momentum_buffer`; AdamW `exp_avg`, `exp_avg_sq`. */
export type OptimizerState = Map<string, Map<string, tf.Variable>>;

export const BUFFER_NAMES: Record<OptimizerConfig['kind'], string[]> = {
  sgd: ['momentum_buffer'],
  adamw: ['exp_avg', 'exp_avg_sq'],
};

export class Optimizer {
  readonly state: OptimizerState = new Map();

  constructor(readonly cfg: OptimizerConfig, readonly params: readonly OptimizedParam[]) {
    for (const p of params) {
      const buffers = new Map<string, tf.Variable>();
      for (const b of BUFFER_NAMES[cfg.kind]) {
        // tf.variable shares the zeros' data: dispose the zeros tensor itself, or it stays counted.
        const zeros = tf.zerosLike(p.variable);
        buffers.set(b, tf.variable(zeros, false));
        zeros.dispose();
      }
      this.state.set(p.name, buffers);
    }
  }

  /** ‖g‖₂ over every gradient (missing gradients count as zero). */
  async gradNorm(grads: tf.NamedTensorMap): Promise<number> {
    // Pairwise adds, not one addN: WebGPU binds every addN input as a storage buffer (8 per shader).
    const sq = tf.tidy(() =>
      this.params
        .map((p) => grads[p.variable.name])
        .filter((g): g is tf.Tensor => g !== undefined)
        .reduce<tf.Tensor>((acc, g) => tf.add(acc, tf.sum(tf.square(g))), tf.scalar(0)),
    );
    const v = (await sq.data())[0]!;
    sq.dispose();
    return Math.sqrt(v);
  }

  /**
   * One update with learning rate `lr` at 1-based optimizer step `t` (AdamW's bias correction).
   * Returns the gradient norm before clipping. Gradients are not disposed here.
   */
  async apply(grads: tf.NamedTensorMap, lr: number, t: number): Promise<number> {
    const norm = await this.gradNorm(grads);
    if (!Number.isFinite(norm)) return norm;
    const scale = this.cfg.clipNorm > 0 && norm > this.cfg.clipNorm ? this.cfg.clipNorm / norm : 1;
    const { kind, momentum, beta1, beta2, eps, weightDecay } = this.cfg;
    for (const p of this.params) {
      const g0 = grads[p.variable.name];
      if (g0 === undefined) continue;
      const buffers = this.state.get(p.name)!;
      tf.tidy(() => {
        let g = scale === 1 ? g0 : tf.mul(g0, scale);
        const w = p.variable;
        const wd = p.decay ? weightDecay : 0;
        if (kind === 'sgd') {
          if (wd > 0) g = tf.add(g, tf.mul(w, wd));
          const buf = buffers.get('momentum_buffer')!;
          const next = tf.add(tf.mul(buf, momentum), g);
          buf.assign(next);
          w.assign(tf.sub(w, tf.mul(next, lr)));
        } else {
          const m = buffers.get('exp_avg')!;
          const v = buffers.get('exp_avg_sq')!;
          const m1 = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
          const v1 = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
          m.assign(m1);
          v.assign(v1);
          const mHat = tf.div(m1, 1 - beta1 ** t);
          const vHat = tf.div(v1, 1 - beta2 ** t);
          let update = tf.div(mHat, tf.add(tf.sqrt(vHat), eps));
          if (wd > 0) update = tf.add(update, tf.mul(w, wd));
          w.assign(tf.sub(w, tf.mul(update, lr)));
        }
      });
    }
    return norm;
  }

  dispose(): void {
    for (const buffers of this.state.values()) for (const b of buffers.values()) b.dispose();
  }
}
