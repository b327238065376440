/**
 * The step the gradient-based training-free proxies share (SNIP, DSS): a subnet's trainable
 * weights as slices of one randomly initialised supernet, and the gradient of an objective of
 * its logits with respect to each. Differentiating the slices directly means nothing is padded
 * to supernet size. Call inside tf.tidy: every tensor returned is the caller's to release.
 */
import * as tf from '@tensorflow/tfjs-core';
import { paramList, type ParamEntry } from '../space/params.js';
import type { ArchSpec } from '../space/spec.js';
import type { Supernet } from '../supernet/supernet.js';
import { vitForward, type ParamSource } from '../supernet/vit.js';

export interface SubnetGradients {
  /** the subnet's trainable parameters, in forward order */
  params: ParamEntry[];
  /** each parameter's value as the forward pass used it (|W| when linearised) */
  weights: tf.Tensor[];
  /** ∂objective/∂weight, one per parameter */
  grads: tf.Tensor[];
}

export function subnetGradients(net: Supernet, spec: ArchSpec, images: tf.Tensor4D, objective: (logits: tf.Tensor2D) => tf.Scalar, opts: { linearise?: boolean } = {}): SubnetGradients {
  // trainable parameters are differentiated; buffers (fixed features) are constants
  const params = paramList(spec).filter((e) => e.kind.trainable);
  const weights = params.map((e) => {
    const { param, region } = net.resolve(e, spec, 'left');
    const w = tf.slice(param.v, region.begin, region.size);
    // SynFlow-style linearisation (TF-TAS's DSS): every weight positive, so no sign cancels a path
    return opts.linearise ? tf.abs(w) : w;
  });
  const buffers = net.source(spec, 'left');
  const index = new Map(params.map((p, i) => [p.name, i]));
  const f = (...xs: tf.Tensor[]): tf.Scalar => {
    const src: ParamSource = { get: (n) => (index.has(n) ? xs[index.get(n)!]! : buffers.get(n)) };
    // an untrained network has no running statistics: BatchNorm uses the batch's
    return objective(vitForward(images, spec, src, { norm: 'batch' }));
  };
  return { params, weights, grads: tf.grads(f)(weights) };
}
