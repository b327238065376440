/**
 * Class attention (CaiT, timm `cait.py` ClassAttn / LayerScaleBlockClassAttn; UFO-ViT uses it): L
 * layers after the patch blocks, where the class token joins the network. In each, only the class
 * token queries [cls; patches] (the patches are not updated), then an MLP on the class token; both
 * with a residual on the class token. Its q/k/v, output projection and MLP are sliced like a
 * block's, Q and K private per head count. vitas leaves out CaiT's LayerScale, as in its blocks.
 */
import type { ClassBlock } from '../spec.js';
import { BETA, BIAS, GAMMA, QK_BIAS, QK_WEIGHT, WEIGHT, type Emit, type Net } from './decl.js';

const prefixes: string[] = [];
/** `cls_blocks.{j}`, built once per index. */
export function classBlockPrefix(j: number): string {
  return (prefixes[j] ??= `cls_blocks.${j}`);
}

/** The parameters of one part of a class-attention layer (each part is a cost row of its own). */
export function classAttentionParams(net: Net, cb: ClassBlock, prefix: string, part: 'norm1' | 'attn' | 'norm2' | 'mlp', emit: Emit): void {
  const E = net.E;
  const I = cb.qkv / 3;
  if (part === 'norm1' || part === 'norm2') {
    emit(prefix, part === 'norm1' ? 'norm1.gamma' : 'norm2.gamma', GAMMA, E);
    emit(prefix, part === 'norm1' ? 'norm1.beta' : 'norm2.beta', BETA, E);
  } else if (part === 'attn') {
    emit(prefix, 'attn.q.w', QK_WEIGHT, E, I);
    emit(prefix, 'attn.q.b', QK_BIAS, I);
    emit(prefix, 'attn.k.w', QK_WEIGHT, E, I);
    emit(prefix, 'attn.k.b', QK_BIAS, I);
    emit(prefix, 'attn.v.w', WEIGHT, E, I);
    emit(prefix, 'attn.v.b', BIAS, I);
    emit(prefix, 'attn.proj.w', WEIGHT, I, E);
    emit(prefix, 'attn.proj.b', BIAS, E);
  } else {
    emit(prefix, 'mlp.fc1.w', WEIGHT, E, cb.mlp);
    emit(prefix, 'mlp.fc1.b', BIAS, cb.mlp);
    emit(prefix, 'mlp.fc2.w', WEIGHT, cb.mlp, E);
    emit(prefix, 'mlp.fc2.b', BIAS, E);
  }
}

/** q and the output projection on the one class token, k and v on the `keys` counted tokens [cls; patches]. */
export const classProjectionMacs = (net: Net, cb: ClassBlock, keys: number): number => (2 + 2 * keys) * net.E * (cb.qkv / 3);

/** QKᵀ and AV of the one query over `keys` tokens. */
export const classMixingMacs = (cb: ClassBlock, keys: number): number => 2 * keys * (cb.qkv / 3);

/** The class token's MLP. */
export const classMlpMacs = (net: Net, cb: ClassBlock): number => 2 * net.E * cb.mlp;

/** Floats per image a training step keeps: the normalised [cls; patches], their k and v, one attention row per head. */
export const classAttentionActs = (net: Net, cb: ClassBlock): number => (net.P + 1) * (net.E + 2 * (cb.qkv / 3) + cb.heads) + 4 * net.E + 2 * cb.mlp;
