/**
 * The stem: `linear` patchify + matMul, or `conv`: two 3×3 stride-2 convolutions (C → ⌈E/4⌉ →
 * ⌈E/2⌉, each followed by a channel LayerNorm and GELU, written as im2col + one matMul) and then a
 * linear patchify of p/4 — a small-data stem in the spirit of SReT's and ViX's conv embeddings.
 * The patchify depends on the patch size: private per patch size in the supernet.
 */
import { BETA, BIAS, GAMMA, PATCH_BIAS, PATCH_WEIGHT, WEIGHT, type Emit, type Net } from './decl.js';

/** Channels of the two stem convolutions for embed E. */
export const stemWidths = (e: number): [number, number] => [Math.ceil(e / 4), Math.ceil(e / 2)];

/** Input width of the patchify: p²·C (linear) or (p/4)²·⌈E/2⌉ (conv). */
export function patchifyIn(net: Net): number {
  const p = net.spec.patch;
  return net.spec.stem === 'conv' ? (p / 4) * (p / 4) * stemWidths(net.E)[1] : p * p * net.C;
}

export function stemParams(net: Net, emit: Emit): void {
  if (net.spec.stem === 'conv') {
    const [c1, c2] = stemWidths(net.E);
    emit('stem', 'conv1.w', WEIGHT, 9 * net.C, c1);
    emit('stem', 'conv1.b', BIAS, c1);
    emit('stem', 'norm1.gamma', GAMMA, c1);
    emit('stem', 'norm1.beta', BETA, c1);
    emit('stem', 'conv2.w', WEIGHT, 9 * c1, c2);
    emit('stem', 'conv2.b', BIAS, c2);
    emit('stem', 'norm2.gamma', GAMMA, c2);
    emit('stem', 'norm2.beta', BETA, c2);
  }
  emit('patch_embed', 'w', PATCH_WEIGHT, patchifyIn(net), net.E);
  emit('patch_embed', 'b', PATCH_BIAS, net.E);
}

/** MACs of the stem's layers: [conv1, conv2, patchify] (the convs 0 for a linear stem). */
export function stemMacs(net: Net): [number, number, number] {
  const [h, w] = net.spec.input;
  const patchify = net.P * patchifyIn(net) * net.E;
  if (net.spec.stem !== 'conv') return [0, 0, patchify];
  const [c1, c2] = stemWidths(net.E);
  return [(h / 2) * (w / 2) * 9 * net.C * c1, (h / 4) * (w / 4) * 9 * c1 * c2, patchify];
}

export function stemActs(net: Net): number {
  const [h, w] = net.spec.input;
  if (net.spec.stem !== 'conv') return 2 * net.P * patchifyIn(net);
  const [c1, c2] = stemWidths(net.E);
  return (h / 2) * (w / 2) * (9 * net.C + 4 * c1) + (h / 4) * (w / 4) * (9 * c1 + 4 * c2) + net.P * patchifyIn(net);
}
