/**
 * TF-TAS's DSS indicator (Zhou et al., CVPR 2022, "Training-free Transformer Architecture
 * Search"): synaptic diversity of the attention (MSA) weights plus synaptic saliency of the MLP
 * weights,
 *   DSS = Σ_MSA ‖∂R/∂W‖_* · ‖W‖_*  +  Σ_MLP Σ |W ⊙ ∂R/∂W|,
 * where ‖·‖_* is the nuclear norm (the paper's rank-diversity measure) and R is, as in the
 * reference code, SynFlow's data-free objective: the sum of the logits of an all-ones image
 * through the network with every weight replaced by its absolute value. Like the reference
 * (whose AutoFormer blocks have one qkv layer), q, k and v of an attention are one matrix.
 * Mixers without q/k/v contribute the matrices their mixing has (Linformer's E, Mixer's token
 * MLP, Nyström's conv, Dual-ViT's semantic attentions). Weights are slices of one randomly
 * initialised supernet, so no data and no training are needed.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { SearchSpace } from '../space/space.js';
import type { ArchSpec } from '../space/spec.js';
import { Supernet } from '../supernet/supernet.js';
import { scoreOnce, type Evaluator } from './evaluator.js';
import { subnetGradients } from './gradients.js';
import { traceSqrtPsd } from './nuclear-norm.js';

const MSA = /(^|\.)(attn\.(q|k|v|proj)\.w|dual\.(self|cross)\.(q|k|v|proj)\.w|linformer\.e|mixer\.fc[12]\.w|nystrom\.conv)$|^semantic\.(q|k|v)\.w$/;
const MLP = /(^|\.)(mlp|nll\d+)\.fc[12]\.w$/;

/** A parameter's part in DSS by its name: an attention weight (diversity), an MLP weight (saliency), or none. */
export function dssRole(name: string): 'msa' | 'mlp' | undefined {
  return MSA.test(name) ? 'msa' : MLP.test(name) ? 'mlp' : undefined;
}

/** The matrix an MSA weight belongs to: q, k and v of one attention share one (`blocks.0.attn.qkv`). */
function msaGroup(name: string): string {
  const m = /^(.*)\.(q|k|v)\.w$/.exec(name);
  return m ? `${m[1]}.qkv` : name;
}

/** ‖M‖_* of a 2-D tensor: Σ√λ of its smaller Gram matrix (computed by tfjs, its eigenvalues in float64). */
function nuclear(m: tf.Tensor2D): number {
  const [r, c] = m.shape;
  const g = c <= r ? tf.matMul(m, m, true, false) : tf.matMul(m, m, false, true);
  const data = Float64Array.from(g.dataSync());
  g.dispose();
  return traceSqrtPsd(data, Math.min(r, c));
}

export class DssEvaluator implements Evaluator {
  readonly name = 'proxy';
  readonly higherIsBetter = true;
  private readonly net: Supernet;
  private readonly cache = new Map<string, number>();
  private readonly x: tf.Tensor4D;

  constructor(space: SearchSpace, opts: { seed?: number } = {}) {
    this.net = new Supernet(space, { seed: opts.seed ?? 0 });
    this.x = tf.ones([1, ...space.input]);
  }

  async evaluate(specs: ArchSpec[]): Promise<number[]> {
    return scoreOnce(this.cache, specs, (s) => this.score(s));
  }

  score(spec: ArchSpec): number {
    return tf.tidy(() => {
      const { params, weights, grads } = subnetGradients(this.net, spec, this.x, (logits) => tf.sum(logits), { linearise: true });
      const groups = new Map<string, { w: tf.Tensor2D[]; g: tf.Tensor2D[] }>();
      let saliency = tf.scalar(0);
      params.forEach((p, i) => {
        const role = dssRole(p.name);
        if (role === 'mlp') saliency = tf.add(saliency, tf.sum(tf.abs(tf.mul(weights[i]!, grads[i]!))));
        if (role !== 'msa') return;
        const key = msaGroup(p.name);
        const grp = groups.get(key) ?? { w: [], g: [] };
        grp.w.push(weights[i] as tf.Tensor2D);
        grp.g.push(grads[i] as tf.Tensor2D);
        groups.set(key, grp);
      });
      let diversity = 0;
      for (const { w, g } of groups.values()) {
        const cat = (xs: tf.Tensor2D[]): tf.Tensor2D => (xs.length === 1 ? xs[0]! : tf.concat(xs, 1));
        diversity += nuclear(cat(g)) * nuclear(cat(w));
      }
      return diversity + saliency.dataSync()[0]!;
    });
  }

  dispose(): void {
    this.net.dispose();
    this.x.dispose();
  }
}
