import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import {
  initBackend, SPACES, presetSpace, sampleSpec, Rng, costOf, paramList, buildModel, countMacs, fnetImplementationMacs,
  Supernet, smoothedCrossEntropy, netOf, nystromLength, NYSTROM_KERNEL, LPI_MACS_PER_TOKEN, type ArchSpec, type AttnBlock,
} from '../src/index.js';
import { OPERATOR_BLOCKS, STEM_POS, tinyXSpace, tinyXSpec } from './helpers.js';
import { expectGradientsMatchFiniteDifferences, expectStepTouchesOnlyUsage, expectSupernetEqualsStandalone } from './supernet-checks.js';

/** The MACs a spec states beyond what its product kernels run: FFT-priced FNet is run as DFT products; the Nyström conv and LPI's depthwise convs are element-wise. */
function uncountedByKernels(spec: ArchSpec): number {
  const net = netOf(spec);
  let d = 0;
  for (const b of spec.blocks) {
    if (b.op !== 'attn') continue;
    const r = b.recursion ?? 1;
    if (b.attention === 'fnet') {
      const stated = net.T * net.E * (Math.ceil(Math.log2(net.T)) + Math.ceil(Math.log2(net.E)));
      d += r * (stated - fnetImplementationMacs(net.T, net.E));
    }
    if (b.attention === 'nystrom' && b.conv) d += r * nystromLength(net.T, b.features!) * (b.qkv / 3) * NYSTROM_KERNEL;
    if (b.lpi) d += r * LPI_MACS_PER_TOKEN * net.P * net.E;
  }
  return d;
}

const SMALL = ['fmnist', 'fmnist-x'];
const every = Object.keys(SPACES);

describe('operator catalogue', function () {
  this.timeout(600_000);
  before(async () => {
    await initBackend();
  });

  it('states the parameters buildModel holds: 50 random specs of every preset space', () => {
    for (const name of every) {
      const space = presetSpace(name);
      const rng = new Rng(`params-${name}`);
      for (let i = 0; i < 50; i++) {
        const spec = sampleSpec(space, rng);
        const declared = paramList(spec).filter((e) => e.kind.trainable).reduce((a, e) => a + e.shape.reduce((p, s) => p * s, 1), 0);
        expect(costOf(spec).params, `${name} #${i}`).to.equal(declared);
        // the 224² spaces' models take seconds each to allocate: every spec of the CPU spaces, the first two of the others
        if (SMALL.includes(name) || i < 2) {
          const model = buildModel(spec, i);
          expect(model.paramCount(), `${name} #${i}`).to.equal(costOf(spec).params);
          model.dispose();
        }
      }
    }
  });

  it('states the MACs its forward runs, counted on the product kernels (FNet and the Nyström conv differ by exactly their stated amounts)', () => {
    for (const name of every) {
      const space = presetSpace(name);
      const rng = new Rng(`macs-${name}`);
      // a 224² forward takes seconds on wasm: 50 specs of the CPU spaces, one of each other
      for (let i = 0; i < (SMALL.includes(name) ? 50 : 1); i++) {
        const spec = sampleSpec(space, rng);
        const model = buildModel(spec, i);
        const x = tf.zeros([1, ...spec.input]) as tf.Tensor4D;
        const counted = countMacs(() => void tf.tidy(() => model.forward(x))).macs;
        expect(counted + uncountedByKernels(spec), `${name} #${i}: ${JSON.stringify(spec.blocks.map((b) => b.op === 'attn' ? b.attention : 'id'))}`).to.equal(costOf(spec, 'macs').macs);
        x.dispose();
        model.dispose();
      }
    }
  });

  it('differs for FNet by the DFT products it runs instead of an FFT: 2NE² + 2N²E − NE(⌈log₂N⌉ + ⌈log₂E⌉)', () => {
    const spec = tinyXSpec({}, OPERATOR_BLOCKS.fnet!);
    const model = buildModel(spec, 1);
    const x = tf.zeros([1, 8, 8, 1]) as tf.Tensor4D;
    const counted = countMacs(() => void tf.tidy(() => model.forward(x))).macs;
    const N = 17, E = 16;
    expect(counted - costOf(spec).macs).to.equal(2 * N * E * E + 2 * N * N * E - N * E * (5 + 4));
    x.dispose();
    model.dispose();
  });

  describe('every operator, inside the supernet and standalone', () => {
    let net: Supernet;
    before(() => {
      net = new Supernet(tinyXSpace, { seed: 7 });
    });
    after(() => net.dispose());
    const x = (): tf.Tensor4D => tf.randomNormal([3, 8, 8, 1], 0, 1, 'float32', 11) as tf.Tensor4D;

    for (const [op, block] of Object.entries(OPERATOR_BLOCKS))
      for (const [variant, overrides] of Object.entries(STEM_POS)) {
        const spec = tinyXSpec(overrides, block);
        const label = `${op} (${variant})`;

        it(`${label}: the supernet forward equals the extracted standalone model within 1e-5`, () => {
          expectSupernetEqualsStandalone(net, spec, x);
        });

        it(`${label}: a training step changes exactly the slices and private weights the subnet uses`, () => {
          const keys = expectStepTouchesOnlyUsage(net, spec, x);
          // the operator's own weights are among those used (private to it, and to the patch size or head count where declared)
          const own = paramList(spec).filter((e) => e.kind.trainable && /\.(performer|linformer|nystrom|xnorm|mixer)\./.test(e.name));
          for (const e of own) expect(keys.some((k) => k.startsWith(e.name.slice(0, e.name.lastIndexOf('.')))), e.name).to.equal(true);
        });

        it(`${label}: forward and backward match finite differences on the default backend`, () => {
          const model = buildModel(spec, 3);
          const images = x();
          const r = tf.randomNormal([3, 4], 0, 1, 'float32', 5);
          const loss = (): tf.Scalar => tf.sum(tf.mul(model.forward(images), r)) as tf.Scalar;
          // the two entries of largest |gradient| of every block-0 weight, the stem's and the patch embedding's
          const names = model.trainableWeights().map(([n]) => n).filter((n) => n.startsWith('blocks.0.') || n.startsWith('stem.') || n === 'patch_embed.w');
          // one check per weight, so each weight's count is known (the check skips entries whose |gradient| < 1e-3)
          const checked = new Map(names.map((n) => [n, expectGradientsMatchFiniteDifferences(loss, model.weights, [n])]));
          // the stem or patch embedding and the operator's own weights: both entries of each compared. Not mixer.fc2.b:
          // it adds one constant to every channel of a token, which each LayerNorm after it removes (its gradient is ~1e-7)
          const core = names.filter((n) => /^(stem\.|patch_embed\.w$)|\.(performer|linformer|nystrom|xnorm|mixer)\./.test(n) && !n.endsWith('.mixer.fc2.b'));
          expect(core.length).to.be.greaterThan(0);
          for (const n of core) expect(checked.get(n), `entries of ${n} checked`).to.equal(2);
          // and at least one entry per weight overall. At this init some gradients are legitimately below 1e-3: a softmax
          // key bias has none (softmax is shift-invariant), q and k get little while attention is near uniform, and
          // after FNet's unnormalised DFT (~√(T·E) larger than its input) the block's norm2 and MLP get ~1e-4: there, one short
          const total = [...checked.values()].reduce((a, c) => a + c, 0);
          expect(total, 'entries checked').to.be.at.least(names.length - (op === 'fnet' ? 1 : 0));
          images.dispose(); r.dispose(); model.dispose();
        });
      }
  });

  it('evaluates each operator for real in the proxy: a performer spec does not score as its softmax twin', async () => {
    const { ProxyEvaluator } = await import('../src/evaluators/proxy.js');
    const proxy = new ProxyEvaluator(tinyXSpace, { seed: 3 });
    const scores = Object.entries(OPERATOR_BLOCKS).map(([, b]) => proxy.score(tinyXSpec({}, b)));
    expect(new Set(scores.map((s) => s.toFixed(6))).size).to.equal(scores.length);
    proxy.dispose();
  });
});

// keep the type import used when the test list changes
export type { AttnBlock };
void smoothedCrossEntropy;
