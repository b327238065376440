/**
 * `dual` (Dual-ViT, YehLi/ImageNetModel `classification/dualvit.py`): the block carries a second
 * stream of M semantic tokens beside the N pixel tokens. The stream is formed once, at the first
 * dual block, from the M-cell average pool of the patch grid fused with M learned queries; then
 * every dual block runs, in order, semantic self-attention, semantic tokens querying the pixel
 * tokens, the semantic MLP, and the pixel tokens querying only the M semantic tokens (N·M instead
 * of N²). The pixel query and the keys/values of the semantic tokens use the block's shared q/k/v
 * projections; everything else of the semantic side is the operator's own (private to `dual`).
 *
 * Where vitas differs from the reference (one isotropic stage; README): each semantic attention
 * has an output projection (its width is the block's searched qkv/3, not E), the semantic MLP has
 * the block's MLP width, and no LayerScale.
 */
import { BETA, BIAS, GAMMA, QK_BIAS, QK_WEIGHT, SEMANTIC_TOKEN, WEIGHT, type Emit, type MixerDecl, type Net, type StreamDecl } from './decl.js';

/** Side of the pooled grid: M = s². */
export const semanticSide = (m: number): number => Math.round(Math.sqrt(m));

/** A linear layer's weight [din, dout] and bias under `prefix`.`name`. */
function linear(emit: Emit, prefix: string, name: string, din: number, dout: number, qk = false): void {
  emit(prefix, `${name}.w`, qk ? QK_WEIGHT : WEIGHT, din, dout);
  emit(prefix, `${name}.b`, qk ? QK_BIAS : BIAS, dout);
}

function norm(emit: Emit, prefix: string, name: string, e: number): void {
  emit(prefix, `${name}.gamma`, GAMMA, e);
  emit(prefix, `${name}.beta`, BETA, e);
}

/**
 * The semantic tokens, formed once: the patch grid average-pooled to √M×√M cells (PyTorch's
 * adaptive bins, run as one product with the fixed averaging matrix: M·P·E), M learned queries
 * (LayerNorm + E→E) attending over the pooled tokens (one head; k, v E→E each), then the
 * reference's gate — per channel a softmax over {attended, pooled} from an MLP (E→E, ReLU, E→2E
 * as two E→E halves) of their mean over the tokens — and a LayerNorm.
 */
export const semanticStream: StreamDecl = {
  row: 'semantic',
  params(net, emit) {
    const E = net.E;
    emit('semantic', 'queries', SEMANTIC_TOKEN, net.M, E);
    norm(emit, 'semantic', 'q.norm', E);
    linear(emit, 'semantic', 'q', E, E);
    linear(emit, 'semantic', 'k', E, E);
    linear(emit, 'semantic', 'v', E, E);
    linear(emit, 'semantic', 'gate.fc1', E, E);
    linear(emit, 'semantic', 'gate.a', E, E);
    linear(emit, 'semantic', 'gate.b', E, E);
    norm(emit, 'semantic', 'norm', E);
  },
  // pool, the queries' projection, k and v of the pooled tokens, QKᵀ and AV, the gate's three E×E products (once per image)
  macs: (net) => net.M * net.P * net.E + 3 * net.M * net.E * net.E + 2 * net.M * net.M * net.E + 3 * net.E * net.E,
  acts: (net) => net.M * (8 * net.E + net.M),
};

export const dual: MixerDecl = {
  projections: true,
  stream: semanticStream,
  params(net, k, emit) {
    const { E } = net;
    const p = k.prefix;
    norm(emit, p, 'dual.self.norm', E);
    linear(emit, p, 'dual.self.q', E, k.I, true);
    linear(emit, p, 'dual.self.k', E, k.I, true);
    linear(emit, p, 'dual.self.v', E, k.I);
    linear(emit, p, 'dual.self.proj', k.I, E);
    norm(emit, p, 'dual.cross.norm', E);
    linear(emit, p, 'dual.cross.q', E, k.I, true);
    linear(emit, p, 'dual.cross.k', E, k.I, true);
    linear(emit, p, 'dual.cross.v', E, k.I);
    linear(emit, p, 'dual.cross.proj', k.I, E);
    norm(emit, p, 'dual.mlp.norm', E);
    linear(emit, p, 'dual.mlp.fc1', E, k.b.mlp);
    linear(emit, p, 'dual.mlp.fc2', k.b.mlp, E);
    norm(emit, p, 'dual.kv.norm', E);
  },
  // the pixel query and output projection on the n pixel tokens; the shared k, v on the M semantic tokens
  projectionMacs: (net, k, c) => 2 * c.n * net.E * k.I + 2 * net.M * net.E * k.I,
  // semantic self-attention (qkv, QKᵀ + AV, proj), semantic→pixel (q, the pixels' k and v, QKᵀ + AV, proj),
  // the semantic MLP, and the pixels' attention over the M semantic tokens (QKᵀ + AV)
  macs: (net, k, c) => {
    const { E, M } = net;
    const I = k.I;
    const self = 3 * M * E * I + 2 * M * M * I + M * I * E;
    const cross = M * E * I + 2 * c.n * E * I + 2 * M * c.n * I + M * I * E;
    return self + cross + 2 * M * E * k.b.mlp + 2 * c.n * M * I;
  },
  acts: (net: Net, k) => {
    const { E, M, T } = net;
    // the semantic stream's norms, q/k/v, MLP; the three attention maps per head; the pixels' k/v of the cross step
    return M * (8 * E + 6 * k.I + 2 * k.b.mlp) + k.b.heads * (M * M + 2 * M * T) + 2 * T * k.I;
  },
};
