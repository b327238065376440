/**
 * Saved models in TensorFlow.js's weights format: `model.json` (the spec, results and a
 * `weightsManifest`) + `weights.bin` (float32, manifest order). Plain TensorFlow.js reads the
 * weights with `tf.io.decodeWeights(readFileSync('weights.bin'), modelJson.weightsManifest[0].weights)`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeAtomic } from '../io.js';
import { VitasError } from '../space/errors.js';
import { validateSpec } from '../space/spec-schema.js';
import type { ArchSpec } from '../space/spec.js';
import { StandaloneModel } from './model.js';

export interface ModelJson {
  format: 'vitas-model';
  version: 1;
  generatedBy: string;
  spec: ArchSpec;
  results?: Record<string, unknown>;
  weightsManifest: { paths: string[]; weights: { name: string; shape: number[]; dtype: 'float32' }[] }[];
}

export function saveModel(dir: string, model: StandaloneModel, meta: { generatedBy: string; results?: Record<string, unknown> }): void {
  const weights = [...model.weights.entries()];
  const specs = weights.map(([name, v]) => ({ name, shape: v.shape, dtype: 'float32' as const }));
  const total = weights.reduce((a, [, v]) => a + v.size, 0);
  const data = new Float32Array(total);
  let off = 0;
  for (const [, v] of weights) {
    data.set(v.dataSync() as Float32Array, off);
    off += v.size;
  }
  writeAtomic(join(dir, 'weights.bin'), new Uint8Array(data.buffer));
  const json: ModelJson = { format: 'vitas-model', version: 1, generatedBy: meta.generatedBy, spec: model.spec, ...(meta.results ? { results: meta.results } : {}), weightsManifest: [{ paths: ['weights.bin'], weights: specs }] };
  writeAtomic(join(dir, 'model.json'), JSON.stringify(json, null, 2) + '\n');
}

export function loadModel(dir: string): { model: StandaloneModel; json: ModelJson } {
  const path = join(dir, 'model.json');
  if (!existsSync(path)) throw new VitasError(`${dir}: no model.json here (a folder written by vitas retrain)`);
  let json: ModelJson;
  try {
    json = JSON.parse(readFileSync(path, 'utf8')) as ModelJson;
  } catch (e) {
    throw new VitasError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (json.format !== 'vitas-model') throw new VitasError(`${path}: format: ${JSON.stringify(json.format)} is not allowed; must be "vitas-model"`);
  const spec = validateSpec(json.spec, `${path}: spec`);
  const group = json.weightsManifest[0]!;
  const bin = join(dir, group.paths[0]!);
  if (!existsSync(bin)) throw new VitasError(`${bin}: missing weight file`);
  const buf = readFileSync(bin);
  const named = tf.io.decodeWeights(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length), group.weights);
  const model = new StandaloneModel(spec, new Map(Object.entries(named)));
  for (const t of Object.values(named)) t.dispose();
  return { model, json };
}
