/**
 * Forward of `dual` (declaration: src/space/operators/dual.ts): forms the semantic tokens at the
 * first dual block (from its normalised patch tokens), then one dual block's mixing; the updated
 * semantic tokens stay in `c.streams` for the next dual block.
 */
import * as tf from '@tensorflow/tfjs-core';
import { dualMixing, formSemantics, type DualWeights, type SemanticWeights } from '../fn/dual.js';
import type { MixCtx, StreamMixer } from './mixing.js';
import { normOf, weightOf, type ParamSource } from './source.js';

function semanticWeights(ps: ParamSource): SemanticWeights {
  const l = (n: string): ReturnType<typeof weightOf> => weightOf(ps, `semantic.${n}`);
  return {
    queries: ps.get('semantic.queries') as tf.Tensor2D,
    qNorm: normOf(ps, 'semantic.q.norm'),
    q: l('q'),
    k: l('k'),
    v: l('v'),
    gateFc1: l('gate.fc1'),
    gateA: l('gate.a'),
    gateB: l('gate.b'),
    norm: normOf(ps, 'semantic.norm'),
  };
}

function dualWeights(ps: ParamSource, prefix: string): DualWeights {
  const l = (n: string): ReturnType<typeof weightOf> => weightOf(ps, `${prefix}.${n}`);
  const n = (name: string): ReturnType<typeof normOf> => normOf(ps, `${prefix}.${name}`);
  return {
    selfNorm: n('dual.self.norm'),
    selfQ: l('dual.self.q'),
    selfK: l('dual.self.k'),
    selfV: l('dual.self.v'),
    selfProj: l('dual.self.proj'),
    crossNorm: n('dual.cross.norm'),
    crossQ: l('dual.cross.q'),
    crossK: l('dual.cross.k'),
    crossV: l('dual.cross.v'),
    crossProj: l('dual.cross.proj'),
    mlpNorm: n('dual.mlp.norm'),
    fc1: l('dual.mlp.fc1'),
    fc2: l('dual.mlp.fc2'),
    kvNorm: n('dual.kv.norm'),
    q: l('attn.q'),
    k: l('attn.k'),
    v: l('attn.v'),
    proj: l('attn.proj'),
  };
}

/** The patch tokens of h [B, T, E] (the class token, when in the blocks, is first). */
const patchTokens = (h: tf.Tensor3D, c: MixCtx): tf.Tensor3D => (c.cls ? tf.slice(h, [0, c.cls, 0], [c.B, c.P, c.E]) : h);

export const dual: StreamMixer = {
  projections: true,
  stream: true,
  forward(h, c) {
    const semantic = c.streams.semantic ?? formSemantics(patchTokens(h, c), c.gh, c.gw, semanticWeights(c.ps));
    const r = dualMixing(h, semantic, dualWeights(c.ps, c.k.prefix), c.k.b.heads);
    c.streams.semantic = r.semantic;
    return r.out;
  },
};
