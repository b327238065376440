import { expect } from 'chai';
import {
  initBackend, Supernet, stepGradients, softCrossEntropy, smoothedCrossEntropy, trainSupernet, syntheticDataset, splitValidation, validateDefinition, VitasError,
  stepSpecs, DEFAULT_RECIPE, reachableRange, sampleSpec, specKey, Rng, presetSpace, depthCorners, encode,
  type ArchSpec,
} from '../src/index.js';
import { tf } from '../src/backend/index.js';
import { tinySpace, tinySpec } from './helpers.js';

const teacherSpec = tinySpec({ patch: 2, embed: 16 }, { heads: 2, qkv: 24, mlp: 16 });
const studentA = tinySpec({ patch: 4, embed: 8 }, { heads: 1, qkv: 12, mlp: 8 });
const studentB = tinySpec({ patch: 2, embed: 8 }, { heads: 2, qkv: 12, mlp: 16 });
const specs: ArchSpec[] = [teacherSpec, studentA, studentB];
const settings = { slicing: 'left' as const, labelSmoothing: 0.1, distill: true };

/** The loss and gradients computed by hand: the teacher's soft predictions enter as a constant. */
function byHand(net: Supernet, x: tf.Tensor4D, y: tf.Tensor1D): { loss: number; grads: Map<string, Float32Array> } {
  const out = { loss: NaN, grads: new Map<string, Float32Array>() };
  tf.tidy(() => {
    const usage = net.usage(specs, 'left');
    const leaves = net.leaves(usage);
    const keys = [...leaves.keys()];
    const target = tf.softmax(net.forward(x, teacherSpec, 'left')); // computed apart: no path back to the weights
    const f = (): tf.Scalar => {
      let sum = smoothedCrossEntropy(net.forward(x, teacherSpec, 'left', undefined, leaves), y, 4, 0.1);
      for (const s of [studentA, studentB]) sum = tf.add(sum, softCrossEntropy(net.forward(x, s, 'left', undefined, leaves), target)) as tf.Scalar;
      return sum;
    };
    const { value, grads } = tf.valueAndGrads(f)(keys.map((k) => leaves.get(k)!.t));
    out.loss = value.dataSync()[0]!;
    keys.forEach((k, i) => out.grads.set(k, grads[i]!.dataSync() as Float32Array));
  });
  return out;
}

describe('in-place distillation', () => {
  before(async () => {
    await initBackend();
  });

  it("sums the teacher's label loss and each student's cross-entropy against the teacher's soft predictions", () => {
    const net = new Supernet(tinySpace, { seed: 5 });
    const x = tf.randomNormal([6, 8, 8, 1], 0, 1, 'float32', 11) as tf.Tensor4D;
    const y = tf.tensor1d([0, 1, 2, 3, 0, 1], 'int32');
    const got = stepGradients(net, x, y, specs, settings);
    const want = byHand(net, x, y);
    expect(got.loss).to.be.closeTo(want.loss, 1e-5);
    // and it is not the label loss of all three
    const plain = stepGradients(net, x, y, specs, { ...settings, distill: false });
    expect(Math.abs(plain.loss - got.loss)).to.be.greaterThan(1e-3);
    net.dispose();
  });

  it("sends no gradient through the teacher's soft targets", () => {
    const net = new Supernet(tinySpace, { seed: 6 });
    const x = tf.randomNormal([5, 8, 8, 1], 0, 1, 'float32', 12) as tf.Tensor4D;
    const y = tf.tensor1d([3, 2, 1, 0, 3], 'int32');
    const got = stepGradients(net, x, y, specs, settings);
    const want = byHand(net, x, y);
    expect([...got.grads.keys()].sort()).to.deep.equal([...want.grads.keys()].sort());
    for (const [k, g] of want.grads) {
      const h = got.grads.get(k)!;
      const scale = Math.max(1e-6, ...g.map(Math.abs));
      for (let i = 0; i < g.length; i++) expect(Math.abs(h[i]! - g[i]!) / scale, `${k}[${i}]`).to.be.lessThan(1e-4);
    }
    net.dispose();
  });

  it('takes a soft cross-entropy equal to the entropy when the student predicts the target exactly', () => {
    const logits = tf.tensor2d([[1, 2, 0.5], [0, 0, 3]]);
    const p = tf.softmax(logits) as tf.Tensor2D;
    const entropy = tf.neg(tf.mean(tf.sum(tf.mul(p, tf.log(p)), -1))).dataSync()[0]!;
    expect(softCrossEntropy(logits, p).dataSync()[0]!).to.be.closeTo(entropy, 1e-6);
  });

  it('is refused without the sandwich rule (no teacher in the step)', async () => {
    const data = splitValidation(syntheticDataset({ count: 16, shape: [8, 8, 1], classes: 4, seed: 1 }), 4, 1);
    let err: unknown;
    try {
      await trainSupernet({ space: tinySpace, data, recipe: { epochs: 1, batch: 8, sandwich: false, distill: true, sampling: 'uniform' } });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(VitasError);
    expect((err as Error).message).to.match(/distill.*needs sandwich/);
    expect(() => validateDefinition({ name: 'd', space: 'fmnist', data: { dataset: 'fashion-mnist', validation: 100 }, budget: { max: '12M' }, supernet: { distill: true } }, 'd.json')).to.throw(/d\.json: supernet\.distill: .*"sandwich": true/);
  });

  it('trains the largest, the smallest and randomSubnets random subnets a step under the sandwich rule (the teacher first)', () => {
    const ends = { max: reachableRange(tinySpace).maxSpec, min: reachableRange(tinySpace).minSpec };
    const keys = (specs: ArchSpec[]): string[] => specs.map(specKey);
    const two = stepSpecs(tinySpace, new Rng(3), { ...DEFAULT_RECIPE, sandwich: true, randomSubnets: 2 }, undefined, ends);
    expect(two).to.have.length(4);
    expect(keys(two.slice(0, 2))).to.deep.equal(keys([ends.max, ends.min]));
    // the random ones are the sampler's next two draws, in order
    const rng = new Rng(3);
    expect(keys(two.slice(2))).to.deep.equal(keys([sampleSpec(tinySpace, rng), sampleSpec(tinySpace, rng)]));
    expect(stepSpecs(tinySpace, new Rng(3), { ...DEFAULT_RECIPE, sandwich: false, randomSubnets: 3 }, undefined, ends)).to.have.length(3);
    expect(stepSpecs(tinySpace, new Rng(3), DEFAULT_RECIPE, undefined, ends)).to.have.length(1);
    expect(() => validateDefinition({ name: 'd', space: 'fmnist', data: { dataset: 'fashion-mnist', validation: 100 }, budget: { max: '12M' }, supernet: { randomSubnets: 0 } }, 'd.json')).to.throw(/d\.json: supernet\.randomSubnets/);
  });

  it('with corners also trains the wide-and-shallow and the narrow-and-deep subnet, both inside the space', () => {
    const space = presetSpace('fmnist-c');
    const range = reachableRange(space);
    const { wideShallow, narrowDeep } = depthCorners(space, range);
    const active = (s: ArchSpec): number => s.blocks.filter((b) => b.op !== 'identity').length;
    expect([wideShallow.embed, active(wideShallow)]).to.deep.equal([range.maxSpec.embed, space.depth.min]);
    expect([narrowDeep.embed, active(narrowDeep)]).to.deep.equal([range.minSpec.embed, space.depth.max]);
    for (const s of [wideShallow, narrowDeep]) expect(() => encode(space, s)).to.not.throw();
    const specs = stepSpecs(space, new Rng(5), { ...DEFAULT_RECIPE, sandwich: true, corners: true, randomSubnets: 1 }, undefined, { max: range.maxSpec, min: range.minSpec, corners: [wideShallow, narrowDeep] });
    expect(specs.slice(0, 4).map(specKey)).to.deep.equal([range.maxSpec, range.minSpec, wideShallow, narrowDeep].map(specKey));
    expect(specs).to.have.length(5);
    expect(() => validateDefinition({ name: 'd', space: 'fmnist-c', data: { dataset: 'fashion-mnist', validation: 100 }, budget: { max: '12M' }, supernet: { corners: true } }, 'd.json')).to.throw(/d\.json: supernet\.corners: .*"sandwich": true/);
  });
});

