import { expect } from 'chai';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import {
  initBackend, linear, gelu, geluOps, layerNorm, layerNormOps, LN_EPS, softmaxAttention, softmaxAttentionOps, softmaxAttentionQkv, smoothedCrossEntropy, Supernet, Rng,
  loadDefinition, resolveSpace, budgetWindow, samplingPId, referenceSubnets, DEFAULT_RECIPE, supernetOptions, MaskedAdamW, trainStep, checkMemory, trainingMemory, WASM_HEAP_BYTES, WASM_USABLE,
} from '../src/index.js';
import { tf } from '../src/backend/index.js';
import { peakMemory } from '../src/backend/memory-peak.js';
import { expectGradientsMatchFiniteDifferences } from './supernet-checks.js';
import { ROOT, tinySpace, tinySpec } from './helpers.js';
import { SIMD_WASM_BASE64 } from '../src/backend/wasm/simd-wasm.js';
import { fusedKernelsActive, simdKernelsFor } from '../src/backend/simd-kernels.js';

/** the part of the WebAssembly JS API these tests use (the project's TS libs carry none) */
declare const WebAssembly: {
  Module: { new (bytes: Uint8Array): object; imports(m: object): { module: string; name: string; kind: string }[]; exports(m: object): { name: string; kind: string }[] };
};

/** Central finite differences of sum(f(x)·probe) w.r.t. x, in float32, at a few entries. */
function checkGrad(f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor, probe: tf.Tensor): void {
  const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(f(t), probe)))(x);
  const gv = g.dataSync();
  const xv = x.dataSync();
  const eps = 1e-2;
  for (const i of new Set([0, 3, Math.floor(xv.length / 2), xv.length - 1].filter((k) => k < xv.length))) {
    const plus = Float32Array.from(xv), minus = Float32Array.from(xv);
    plus[i]! += eps;
    minus[i]! -= eps;
    const fp = tf.sum(tf.mul(f(tf.tensor(plus, x.shape)), probe)).dataSync()[0]!;
    const fm = tf.sum(tf.mul(f(tf.tensor(minus, x.shape)), probe)).dataSync()[0]!;
    expect(gv[i]).to.be.closeTo((fp - fm) / (2 * eps), 2e-2 * Math.max(1, Math.abs(gv[i]!)));
  }
}

describe('operators on the default backend', () => {
  before(async () => {
    await initBackend();
  });

  it('runs on wasm here: the default backend where tfjs-node is not installed, and the one every op must support', function () {
    const require = createRequire(import.meta.url);
    const installed = (name: string): boolean => {
      try {
        require.resolve(name);
        return true;
      } catch {
        return false; // absent, as on CI
      }
    };
    // a machine with a native binding runs these tests on it instead
    if (installed('@tensorflow/tfjs-node') || installed('@tensorflow/tfjs-node-gpu')) this.skip();
    expect(tf.getBackend(), 'the backend initBackend() chose').to.equal('wasm');
  });
  it('clones without copying on wasm (tfjs clones every tensor it saves for backward): each outlives the other', function () {
    if (tf.getBackend() !== 'wasm') this.skip();
    const before = tf.memory().numTensors;
    const a = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    const b = tf.clone(a);
    expect(b.dataId).to.equal(a.dataId); // one buffer for both
    a.dispose();
    expect(Array.from(b.dataSync())).to.deep.equal([1, 2, 3, 4]);
    const v = tf.variable(b);
    const saved = tf.clone(v);
    tf.tidy(() => v.assign(tf.zeros([2, 2])));
    expect(Array.from(saved.dataSync())).to.deep.equal([1, 2, 3, 4]); // assign swaps the data, the clone keeps the old
    tf.dispose([b, v, saved]);
    expect(tf.memory().numTensors).to.equal(before);
  });

  it('multiplies batched and transposed matrices like the definition (the SIMD kernel on wasm), tails included', () => {
    const rng = new Rng(7);
    const fill = (shape: number[]): tf.Tensor => tf.tensor(Float32Array.from({ length: shape.reduce((p, d) => p * d, 1) }, () => rng.next() * 2 - 1), shape);
    for (const [n, k, m] of [[1, 1, 1], [5, 3, 7], [50, 22, 50], [6, 9, 13], [4, 8, 8], [3, 0, 2]] as const) {
      for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]] as const) {
        for (const batch of [[], [3], [2, 3]]) {
          tf.tidy(() => {
            const a = fill([...batch, ...(ta ? [k, n] : [n, k])]);
            const b = fill([...batch, ...(tb ? [m, k] : [k, m])]);
            const got = tf.matMul(a, b, ta, tb);
            expect(got.shape).to.deep.equal([...batch, n, m]);
            const av = a.dataSync(), bv = b.dataSync(), gv = got.dataSync();
            const items = batch.reduce((p, d) => p * d, 1);
            let worst = 0;
            for (let t = 0; t < items; t++)
              for (let i = 0; i < n; i++)
                for (let j = 0; j < m; j++) {
                  let s = 0;
                  for (let p = 0; p < k; p++) s += av[t * n * k + (ta ? p * n + i : i * k + p)]! * bv[t * k * m + (tb ? j * k + p : p * m + j)]!;
                  worst = Math.max(worst, Math.abs(s - gv[t * n * m + i * m + j]!));
                }
            expect(worst, `${[...batch]} ${n}x${k}x${m} ta=${ta} tb=${tb}`).to.be.below(1e-5);
          });
        }
      }
    }
    // a broadcast batch still goes to the stock kernel and agrees too
    tf.tidy(() => {
      const a = fill([3, 4, 5]), b = fill([1, 5, 2]);
      const ref = tf.stack(tf.unstack(a).map((x) => tf.matMul(x, tf.squeeze(b, [0]))));
      expect(tf.max(tf.abs(tf.sub(tf.matMul(a, b), ref))).dataSync()[0]).to.be.below(1e-5);
    });
  });

  it('sums over leading axes like the definition (the SIMD kernel on wasm), and over other axes as before', () => {
    const rng = new Rng(8);
    for (const shape of [[5, 37], [1600, 96], [2, 3, 21], [4, 0]]) {
      tf.tidy(() => {
        const x = tf.tensor(Float32Array.from({ length: shape.reduce((p, d) => p * d, 1) }, () => rng.next() * 2 - 1), shape);
        const xv = x.dataSync();
        for (const lead of shape.length === 3 ? [1, 2] : [1]) {
          const rows = shape.slice(0, lead).reduce((p, d) => p * d, 1), cols = xv.length / Math.max(rows, 1);
          const axes = Array.from({ length: lead }, (_, i) => i);
          const got = tf.sum(x, axes, true);
          expect(got.shape).to.deep.equal([...axes.map(() => 1), ...shape.slice(lead)]);
          const gv = got.dataSync();
          for (let j = 0; j < cols; j++) {
            let s = 0;
            for (let i = 0; i < rows; i++) s += xv[i * cols + j]!;
            expect(gv[j]).to.be.closeTo(s, 1e-4);
          }
        }
      });
    }
    tf.tidy(() => {
      const x = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
      expect(Array.from(tf.sum(x, 0).dataSync())).to.deep.equal([5, 7, 9]);
      expect(Array.from(tf.sum(x, -1).dataSync())).to.deep.equal([6, 15]);
      expect(Array.from(tf.sum(x).dataSync())).to.deep.equal([21]);
    });
  });

  it('ships a SIMD module that imports only tfjs-wasm\'s memory and carries no data segment (it writes into that heap)', () => {
    const bytes = Buffer.from(SIMD_WASM_BASE64, 'base64');
    const mod = new WebAssembly.Module(bytes);
    expect(WebAssembly.Module.imports(mod)).to.deep.equal([{ module: 'env', name: 'memory', kind: 'memory' }]);
    expect(WebAssembly.Module.exports(mod).map((e) => e.name).sort()).to.deep.equal(['attention', 'attention_grad', 'bmm', 'col2im3x3', 'colsum', 'dwconv3x3', 'dwconv3x3_grad', 'gelu', 'gelu_grad', 'im2col3x3', 'layernorm', 'layernorm_grad']);
    // walk the sections: id byte, LEB128 size; 11 is the data section
    const ids: number[] = [];
    for (let at = 8; at < bytes.length; ) {
      ids.push(bytes[at++]!);
      let size = 0;
      for (let shift = 0; ; shift += 7) {
        const b = bytes[at++]!;
        size |= (b & 0x7f) << shift;
        if (b < 0x80) break;
      }
      at += size;
    }
    expect(ids).to.not.include(11);
  });
  it('links the SIMD module to the wasm backend here, and falls back to the stock kernels where it cannot link', function () {
    if (tf.getBackend() !== 'wasm') this.skip();
    expect(fusedKernelsActive()).to.equal(true);
    expect(simdKernelsFor({})).to.equal(null); // not a WebAssembly.Memory: no instance, no throw
  });

  it('linear: forward x·W + b and its hand-written gradient', () => {
    tf.tidy(() => {
      const x = tf.randomNormal([5, 4], 0, 1, 'float32', 1), w = tf.randomNormal([4, 3], 0, 1, 'float32', 2), b = tf.randomNormal([3], 0, 1, 'float32', 3);
      const y = linear(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D);
      const ref = tf.add(tf.matMul(x, w), b);
      expect(tf.max(tf.abs(tf.sub(y, ref))).dataSync()[0]).to.be.below(1e-5);
      const probe = tf.randomNormal([5, 3], 0, 1, 'float32', 4);
      checkGrad((t) => linear(t as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D), x, probe);
      checkGrad((t) => linear(x as tf.Tensor2D, t as tf.Tensor2D, b as tf.Tensor1D), w, probe);
      checkGrad((t) => linear(x as tf.Tensor2D, w as tf.Tensor2D, t as tf.Tensor1D), b, probe);
    });
  });
  it('gelu: forward and gradient', () => {
    tf.tidy(() => {
      const x = tf.randomNormal([4, 6], 0, 2, 'float32', 5);
      checkGrad(gelu, x, tf.randomNormal([4, 6], 0, 1, 'float32', 6));
      expect(gelu(tf.tensor1d([0, 10])).dataSync()[1]).to.be.closeTo(10, 1e-4);
      // the tanh form of DESIGN's GELU, 0.5x(1 + tanh(√(2/π)(x + 0.044715x³)))
      const xs = [-3, -1, -0.2, 0, 0.5, 2];
      const ref = xs.map((v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))));
      Array.from(gelu(tf.tensor1d(xs)).dataSync()).forEach((v, i) => expect(v).to.be.closeTo(ref[i]!, 1e-6));
    });
  });
  it('gelu: the fused kernels (wasm) give the element-wise form\'s values and gradients, far tails and ragged lengths included', function () {
    if (!fusedKernelsActive()) this.skip();
    for (const shape of [[7], [1600, 97], [3, 2, 5]]) {
      tf.tidy(() => {
        const x = tf.concat([tf.randomNormal([shape.reduce((p, d) => p * d, 1) - 4], 0, 3, 'float32', 31), tf.tensor1d([-100, -20, 20, 100])]).reshape(shape);
        const probe = tf.randomNormal(shape, 0, 1, 'float32', 32);
        const run = (f: (t: tf.Tensor) => tf.Tensor): tf.Tensor[] => [f(x), tf.grad((t: tf.Tensor) => tf.sum(tf.mul(f(t), probe)))(x)];
        const fused = run(gelu), ops = run(geluOps);
        fused.forEach((t, i) => expect(tf.max(tf.abs(tf.sub(t, ops[i]!))).dataSync()[0], `${shape} output ${i}`).to.be.below(1e-5));
      });
    }
  });
  it('layerNorm: forward normalises, gradient matches finite differences', () => {
    tf.tidy(() => {
      const x = tf.randomNormal([3, 8], 1, 3, 'float32', 7);
      const g = tf.randomNormal([8], 1, 0.1, 'float32', 8), b = tf.randomNormal([8], 0, 0.1, 'float32', 9);
      const y = layerNorm(x as tf.Tensor2D, tf.ones([8]) as tf.Tensor1D, tf.zeros([8]) as tf.Tensor1D);
      // every row: mean 0 and variance σ²/(σ² + ε), σ² the row's own (biased) variance, computed here in float64
      const xv = x.dataSync(), yv = y.dataSync();
      for (let r = 0; r < 3; r++) {
        const row = Array.from(xv.subarray(r * 8, r * 8 + 8)), out = Array.from(yv.subarray(r * 8, r * 8 + 8));
        const mu = row.reduce((a, v) => a + v, 0) / 8, s2 = row.reduce((a, v) => a + (v - mu) ** 2, 0) / 8;
        const m = out.reduce((a, v) => a + v, 0) / 8, v2 = out.reduce((a, v) => a + (v - m) ** 2, 0) / 8;
        expect(m, `row ${r} mean`).to.be.closeTo(0, 1e-5);
        expect(v2, `row ${r} variance`).to.be.closeTo(s2 / (s2 + LN_EPS), 1e-5);
      }
      const probe = tf.randomNormal([3, 8], 0, 1, 'float32', 10);
      checkGrad((t) => layerNorm(t as tf.Tensor2D, g as tf.Tensor1D, b as tf.Tensor1D), x, probe);
      checkGrad((t) => layerNorm(x as tf.Tensor2D, t as tf.Tensor1D, b as tf.Tensor1D), g, probe);
      checkGrad((t) => layerNorm(x as tf.Tensor2D, g as tf.Tensor1D, t as tf.Tensor1D), b, probe);
    });
  });
  it('layerNorm: the fused kernels (wasm) give the element-wise form\'s values and gradients, ragged widths included', function () {
    if (!fusedKernelsActive()) this.skip();
    for (const [rows, dim] of [[3, 8], [50, 37], [1600, 96], [2, 1]] as const) {
      tf.tidy(() => {
        const x = tf.randomNormal([rows, dim], 1, 3, 'float32', 21) as tf.Tensor2D;
        const g = tf.randomNormal([dim], 1, 0.1, 'float32', 22) as tf.Tensor1D, b = tf.randomNormal([dim], 0, 0.1, 'float32', 23) as tf.Tensor1D;
        const probe = tf.randomNormal([rows, dim], 0, 1, 'float32', 24);
        const run = (f: typeof layerNorm): tf.Tensor[] => {
          const { value, grads } = tf.valueAndGrads((xs: tf.Tensor, gs: tf.Tensor, bs: tf.Tensor) => tf.sum(tf.mul(f(xs as tf.Tensor2D, gs as tf.Tensor1D, bs as tf.Tensor1D), probe)))([x, g, b]);
          return [f(x, g, b), value, ...grads];
        };
        const fused = run(layerNorm), ops = run(layerNormOps);
        fused.forEach((t, i) => expect(tf.max(tf.abs(tf.sub(t, ops[i]!))).dataSync()[0], `${rows}x${dim} output ${i}`).to.be.below(i === 1 ? 1e-3 : 1e-4));
      });
    }
  });
  it('softmax attention: the fused kernels (wasm) give the tfjs-ops form\'s values and gradients, ragged sizes included', function () {
    if (!fusedKernelsActive()) this.skip();
    for (const [b, n, heads, d] of [[2, 5, 2, 4], [3, 50, 4, 22], [1, 7, 1, 3], [4, 13, 1, 96], [2, 1, 2, 5]] as const) {
      tf.tidy(() => {
        const make = (seed: number): tf.Tensor3D => tf.randomNormal([b, n, heads * d], 0, 1.5, 'float32', seed) as tf.Tensor3D;
        const q = make(41), k = make(42), v = make(43);
        const probe = tf.randomNormal([b, n, heads * d], 0, 1, 'float32', 44);
        const run = (f: typeof softmaxAttention): tf.Tensor[] => {
          const { value, grads } = tf.valueAndGrads((qs: tf.Tensor, ks: tf.Tensor, vs: tf.Tensor) => tf.sum(tf.mul(f(qs as tf.Tensor3D, ks as tf.Tensor3D, vs as tf.Tensor3D, heads), probe)))([q, k, v]);
          return [f(q, k, v, heads), value, ...grads];
        };
        const fused = run(softmaxAttention), ops = run(softmaxAttentionOps);
        fused.forEach((t, i) => expect(tf.max(tf.abs(tf.sub(t, ops[i]!))).dataSync()[0], `${[b, n, heads, d]} output ${i}`).to.be.below(i === 1 ? 1e-3 : 1e-4));
        // from one qkv tensor (q, k, v side by side): the same output, and the gradient as the three side by side
        const qkv = tf.concat([q, k, v], 2);
        const { value, grads } = tf.valueAndGrads((t: tf.Tensor) => tf.sum(tf.mul(softmaxAttentionQkv(t as tf.Tensor3D, heads), probe)))([qkv]);
        const fromQkv = [softmaxAttentionQkv(qkv, heads), value, grads[0]!];
        const expected = [ops[0]!, ops[1]!, tf.concat(ops.slice(2), 2)];
        fromQkv.forEach((t, i) => expect(tf.max(tf.abs(tf.sub(t, expected[i]!))).dataSync()[0], `${[b, n, heads, d]} qkv output ${i}`).to.be.below(i === 1 ? 1e-3 : 1e-4));
      });
    }
  });
  it('softmax attention and label-smoothed cross-entropy: forward and backward', () => {
    tf.tidy(() => {
      const q = tf.randomNormal([2, 5, 8], 0, 1, 'float32', 11) as tf.Tensor3D;
      const k = tf.randomNormal([2, 5, 8], 0, 1, 'float32', 12) as tf.Tensor3D;
      const v = tf.randomNormal([2, 5, 8], 0, 1, 'float32', 13) as tf.Tensor3D;
      checkGrad((t) => softmaxAttention(t as tf.Tensor3D, k, v, 2), q, tf.randomNormal([2, 5, 8], 0, 1, 'float32', 14));
      const logits = tf.randomNormal([4, 3], 0, 1, 'float32', 15);
      checkGrad((t) => smoothedCrossEntropy(t as tf.Tensor2D, tf.tensor1d([0, 1, 2, 1], 'int32'), 3, 0.1), logits, tf.scalar(1));
    });
  });
  it('runs a whole subnet — patchify, tokens, recursion, permuted group attention — forward and backward', () => {
    const net = new Supernet(tinySpace, { seed: 1 });
    const spec = tinySpec({}, { recursion: 2, groups: [2, 2] });
    const x = tf.randomNormal([3, 8, 8, 1], 0, 1, 'float32', 16) as tf.Tensor4D, labels = tf.tensor1d([0, 1, 2], 'int32');
    const loss = (s = spec): tf.Scalar => smoothedCrossEntropy(net.forward(x, s, 'two-sided'), labels, 4, 0.1);
    tf.tidy(() => {
      expect(net.forward(x, spec, 'two-sided').shape).to.deep.equal([3, 4]);
      // the group attention runs: the same weights with the heads' channels in one group give other logits
      const ungrouped = tinySpec({}, { recursion: 2, groups: [1, 1] });
      expect(Math.abs(loss().dataSync()[0]! - loss(ungrouped).dataSync()[0]!)).to.be.above(1e-6);
    });
    const { value, grads } = tf.variableGrads(() => loss());
    expect(Number.isFinite(value.dataSync()[0])).to.equal(true);
    // backward reaches the patch embedding, the class token and both recursion passes' own weights, each with a non-zero gradient
    const keys = [...net.params].filter(([, p]) => grads[p.v.name]).map(([k]) => k);
    for (const k of ['patch_embed.p2.w', 'p2.cls', 'p2.pos', 'blocks.0.alpha1', 'blocks.0.alpha2', 'blocks.0.nll1.fc1.w', 'blocks.0.nll2.fc1.w', 'blocks.0.attn.q.h2.w', 'head.w']) {
      expect(keys, k).to.include(k);
      expect(tf.tidy(() => tf.max(tf.abs(grads[net.params.get(k)!.v.name]!)).dataSync()[0]!), `|∂L/∂${k}|`).to.be.above(0);
    }
    tf.dispose([value, ...Object.values(grads)]);
    // and it is the gradient: finite differences agree at the two largest entries of every weight the subnet uses
    const checked = expectGradientsMatchFiniteDifferences(loss, new Map([...net.params].map(([k, p]) => [k, p.v])), keys);
    expect(checked, 'entries checked').to.be.at.least(keys.length);
    x.dispose(); labels.dispose();
    net.dispose();
  });
  it('trains a median fmnist subnet step at batch 64 within the wasm heap', async function () {
    if (tf.getBackend() !== 'wasm') this.skip();
    // the fmnist search's supernet run (searches/fashion-mnist-v1.json: batch 64) and the median subnet it reports
    const path = join(ROOT, 'searches', 'fashion-mnist-v1.json');
    const def = loadDefinition(path);
    const space = resolveSpace(def, path);
    expect(space.name).to.equal('fmnist');
    const recipe = { ...DEFAULT_RECIPE, ...def.supernet };
    expect(recipe.batch).to.equal(64);
    const budget = budgetWindow(def.budget.max, def.budget.min, def.budget.convention);
    const spec = referenceSubnets(space, recipe.seed, samplingPId(def, space, budget)).find((r) => r.name === 'median')!.spec;
    const options = supernetOptions(recipe);
    // the up-front guard says the step fits the heap
    const target = { spec, supernet: { space, options } };
    await checkMemory(target, 64);
    const need = trainingMemory(target, 64);
    const net = new Supernet(space, { seed: recipe.seed, ...options });
    const used = [...net.usage([spec], 'left').keys()];
    const before = new Map(used.map((k) => [k, net.params.get(k)!.v.dataSync().slice()]));
    const x = tf.randomNormal([64, 28, 28, 1], 0, 1, 'float32', 4) as tf.Tensor4D;
    const y = tf.tensor1d(Array.from({ length: 64 }, (_, i) => i % 10), 'int32');
    const opt = new MaskedAdamW();
    let loss = NaN;
    const peak = peakMemory(() => {
      loss = trainStep(net, opt, x, y, [spec], 1e-3, { slicing: 'left', labelSmoothing: 0.1 });
    });
    expect(Number.isFinite(loss)).to.equal(true);
    // a real step: every weight the subnet uses moved
    for (const k of used) expect(net.params.get(k)!.v.dataSync().some((v, i) => v !== before.get(k)![i]), `${k} moved`).to.equal(true);
    // and what it held at its peak (tensor buffers, above the weights) is within what the guard planned for it (the
    // plan checkMemory found within the heap), so within the part of the heap a step may use
    expect(peak.bufferBytes).to.be.above(0);
    expect(peak.bufferBytes, 'measured peak vs planned gradients + activations').to.be.at.most(need.gradients + need.activations);
    expect(need.weights + peak.bufferBytes).to.be.below(WASM_USABLE * WASM_HEAP_BYTES);
    x.dispose(); y.dispose(); opt.dispose(); net.dispose();
  });
});
