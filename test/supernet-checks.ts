/** Checks every operator's tests run on a supernet: supernet = extracted standalone, and a step's footprint. */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { extractSubnet, MaskedAdamW, trainStep, type ArchSpec, type Supernet } from '../src/index.js';

/** The supernet's forward of `spec` equals its extracted standalone model's within 1e-5. */
export function expectSupernetEqualsStandalone(net: Supernet, spec: ArchSpec, images: () => tf.Tensor4D): void {
  tf.tidy(() => {
    const model = extractSubnet(net, spec);
    const x = images();
    const diff = tf.max(tf.abs(tf.sub(net.forward(x, spec), model.forward(x)))).dataSync()[0]!;
    expect(diff).to.be.below(1e-5);
    model.dispose();
  });
}

/**
 * One training step of `spec` (labels 0, 1, 2) changes exactly the slices the supernet says the subnet
 * uses, and each used weight moves. Returns the used keys; the weights are put back afterwards.
 */
export function expectStepTouchesOnlyUsage(net: Supernet, spec: ArchSpec, images: () => tf.Tensor4D): string[] {
  const before = new Map([...net.params].map(([k, p]) => [k, p.v.dataSync().slice() as Float32Array]));
  const usage = net.usage([spec], 'left');
  const opt = new MaskedAdamW();
  const x = images(), labels = tf.tensor1d([0, 1, 2], 'int32');
  trainStep(net, opt, x, labels, [spec], 1e-2, { slicing: 'left', labelSmoothing: 0.1 });
  for (const [key, p] of net.params) {
    const a = before.get(key)!, b = p.v.dataSync();
    const regions = usage.get(key) ?? [];
    const shape = p.v.shape;
    let movedInside = 0;
    for (let i = 0; i < a.length; i++) {
      const idx = shape.length === 1 ? [i] : [Math.floor(i / shape[1]!), i % shape[1]!];
      const inside = regions.some((r) => idx.every((v, d) => v >= r.begin[d]! && v < r.begin[d]! + r.size[d]!));
      if (!inside) expect(b[i], `${key}[${idx}] outside the subnet's slices`).to.equal(a[i]);
      else if (b[i] !== a[i]) movedInside++;
    }
    if (regions.length) expect(movedInside, `${key} is used but did not move`).to.be.greaterThan(0);
  }
  x.dispose(); labels.dispose(); opt.dispose();
  // put the weights back for the next case's checks
  for (const [key, p] of net.params) p.v.assign(tf.tensor(before.get(key)!, p.v.shape));
  return [...usage.keys()];
}

/**
 * The analytic gradient of `loss` matches central finite differences (at h and h/2,
 * Richardson-combined: truncation O(h⁴), so float32 rounding dominates) at the two entries of
 * largest |gradient| of each named weight; returns how many entries were checked.
 */
export function expectGradientsMatchFiniteDifferences(loss: () => tf.Scalar, weights: ReadonlyMap<string, tf.Variable>, names: readonly string[]): number {
  const { grads } = tf.variableGrads(loss, names.map((n) => weights.get(n)!));
  let checked = 0;
  for (const n of names) {
    const v = weights.get(n)!;
    const g = grads[v.name]!.dataSync();
    for (const i of [...g.keys()].sort((a, b) => Math.abs(g[b]!) - Math.abs(g[a]!)).slice(0, 2)) {
      if (Math.abs(g[i]!) < 1e-3) continue; // float32: only gradients well above rounding
      const values = v.dataSync().slice() as Float32Array;
      const h = 4e-3 * Math.max(1, Math.abs(values[i]!));
      const at = (delta: number): number => {
        const w = values.slice();
        w[i] = values[i]! + delta;
        v.assign(tf.tensor(w, v.shape));
        return tf.tidy(() => loss().dataSync()[0]!);
      };
      const fd = (4 * ((at(h / 2) - at(-h / 2)) / h) - (at(h) - at(-h)) / (2 * h)) / 3;
      v.assign(tf.tensor(values, v.shape));
      expect(Math.abs(fd - g[i]!), `${n}[${i}]: analytic ${g[i]} vs finite difference ${fd}`).to.be.below(2e-2 * Math.max(1, Math.abs(g[i]!)));
      checked++;
    }
  }
  tf.dispose(Object.values(grads));
  return checked;
}
