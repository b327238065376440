import { expect } from 'chai';
import { initBackend, MaskedAdamW } from '../src/index.js';
import { tf } from '../src/backend/index.js';

const values = (t: tf.Tensor): number[] => Array.from(t.dataSync());

describe('masked AdamW', () => {
  before(async () => {
    await initBackend();
  });

  it('takes the same steps as tf.train.adam on a whole tensor when weight decay is off', () => {
    const init = [[0.5, -1, 2], [0.1, 0.3, -0.7]];
    const ours = tf.variable(tf.tensor2d(init));
    const theirs = tf.variable(tf.tensor2d(init));
    const opt = new MaskedAdamW({ beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 });
    const ref = tf.train.adam(0.01, 0.9, 0.999, 1e-8);
    const all = { begin: [0, 0], size: [2, 3] };
    for (let step = 0; step < 6; step++) {
      const g = tf.tensor2d([[step + 1, -2, 0.5], [0.25 * step, 3, -1]]);
      opt.update('w', ours, g, all, [all], 0.01, true);
      ref.applyGradients([{ name: theirs.name, tensor: g }]);
      g.dispose();
    }
    values(ours).forEach((v, i) => expect(v).to.be.closeTo(values(theirs)[i]!, 1e-6));
  });

  it('starts from what the variable holds when something else assigned it after the last update (a checkpoint load)', () => {
    const w = tf.variable(tf.tensor1d([2, -4]));
    const opt = new MaskedAdamW({ beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 });
    const all = { begin: [0], size: [2] };
    const zero = tf.zeros([2]);
    opt.update('w', w, zero, all, [all], 0.5, true);
    const kept = opt.weights(w);
    expect(Array.from(kept)).to.deep.equal(values(w)); // the uploaded copy stands in for a read-back
    w.assign(tf.tensor1d([10, 20]));
    expect(Array.from(opt.weights(w))).to.deep.equal([10, 20]);
    opt.update('w', w, zero, all, [all], 0.5, true);
    expect(values(w)).to.deep.equal([10 - 0.5 * 0.1 * 10, 20 - 0.5 * 0.1 * 20].map(Math.fround));
    zero.dispose();
  });

  it('decays decoupled: a zero gradient only shrinks the weight by lr·wd·w', () => {
    const w = tf.variable(tf.tensor1d([2, -4]));
    const opt = new MaskedAdamW({ beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 });
    const all = { begin: [0], size: [2] };
    opt.update('w', w, tf.zeros([2]), all, [all], 0.5, true);
    expect(values(w)).to.deep.equal([2 - 0.5 * 0.1 * 2, -4 + 0.5 * 0.1 * 4].map(Math.fround));
  });

  it('moves only the entries inside the used regions of the box, counting steps per entry', () => {
    const w = tf.variable(tf.zeros([3, 4]));
    const opt = new MaskedAdamW({ beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 });
    // box rows 0–1 × cols 0–2, used: row 0 cols 0–2 and rows 0–1 col 0 (an L shape)
    const box = { begin: [0, 0], size: [2, 3] };
    const used = [{ begin: [0, 0], size: [1, 3] }, { begin: [0, 0], size: [2, 1] }];
    opt.update('w', w, tf.ones([2, 3]), box, used, 0.1, false);
    const moved = values(w).map((v) => (v === 0 ? 0 : 1));
    expect(moved).to.deep.equal([1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(opt.state.get('w')!.t)).to.deep.equal(moved);
    // a first Adam step moves by lr whatever the gradient's size
    expect(values(w)[0]).to.be.closeTo(-0.1, 1e-6);
  });
});
