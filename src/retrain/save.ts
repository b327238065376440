/**
 * Saved models in TensorFlow.js's weights format: `model.json` (the spec, results and a
 * `weightsManifest`) + `weights.bin` (float32, manifest order). Plain TensorFlow.js reads the
 * weights with `tf.io.decodeWeights(readFileSync('weights.bin'), modelJson.weightsManifest[0].weights)`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Norm } from '../data/dataset.js';
import { readBytes, readJson, sha256, warn, writeAtomic } from '../io.js';
import { VitasError } from '../errors.js';
import { paramList } from '../space/params.js';
import { validateSpec } from '../space/spec-schema.js';
import type { ArchSpec } from '../space/spec.js';
import { ajv, check } from '../space/validate.js';
import { StandaloneModel } from './model.js';

export interface ModelJson {
  format: 'vitas-model';
  version: 1;
  generatedBy: string;
  spec: ArchSpec;
  results?: Record<string, unknown>;
  /** the pixel normalisation the model was trained with (the training split's statistics); absent in models saved before vitas recorded it */
  norm?: Norm;
  weightsManifest: { paths: string[]; weights: { name: string; shape: number[]; dtype: 'float32' }[] }[];
  /** sha256 (hex) of each weight file, by path; absent in models saved before vitas checked them */
  sha256?: Record<string, string>;
}

/** model.json as vitas writes it (the spec inside is checked by its own schema after this). */
export const modelJsonSchema = {
  $id: 'https://vitas.dev/schema/model-v1.json',
  title: 'vitas saved model (model.json)',
  type: 'object',
  additionalProperties: false,
  required: ['format', 'version', 'generatedBy', 'spec', 'weightsManifest'],
  properties: {
    format: { const: 'vitas-model' },
    version: { const: 1 },
    generatedBy: { type: 'string' },
    spec: { type: 'object' },
    results: { type: 'object' },
    norm: {
      type: 'object',
      additionalProperties: false,
      required: ['mean', 'std'],
      properties: { mean: { type: 'number' }, std: { type: 'number', exclusiveMinimum: 0 } },
    },
    // one group with one file: what saveModel writes and loadModel reads
    weightsManifest: {
      type: 'array',
      minItems: 1,
      maxItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['paths', 'weights'],
        properties: {
          paths: { type: 'array', minItems: 1, maxItems: 1, items: { type: 'string', minLength: 1, pattern: '^[^/\\\\]+$' } },
          weights: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['name', 'shape', 'dtype'],
              properties: { name: { type: 'string' }, shape: { type: 'array', items: { type: 'integer', minimum: 0 } }, dtype: { const: 'float32' } },
            },
          },
        },
      },
    },
    sha256: { type: 'object', additionalProperties: { type: 'string', pattern: '^[0-9a-f]{64}$' } },
  },
} as const;

const validateModelJson = ajv.compile(modelJsonSchema);

/** `meta.norm`: the normalisation of the images it was trained on, so that `vitas eval` normalises alike. */
export function saveModel(dir: string, model: StandaloneModel, meta: { generatedBy: string; results?: Record<string, unknown>; norm?: Norm }): void {
  const weights = [...model.weights.entries()];
  const specs = weights.map(([name, v]) => ({ name, shape: v.shape, dtype: 'float32' as const }));
  const total = weights.reduce((a, [, v]) => a + v.size, 0);
  const data = new Float32Array(total);
  let off = 0;
  for (const [, v] of weights) {
    data.set(v.dataSync() as Float32Array, off);
    off += v.size;
  }
  const bytes = new Uint8Array(data.buffer);
  writeAtomic(join(dir, 'weights.bin'), bytes);
  const json: ModelJson = { format: 'vitas-model', version: 1, generatedBy: meta.generatedBy, spec: model.spec, ...(meta.results ? { results: meta.results } : {}), ...(meta.norm ? { norm: meta.norm } : {}), weightsManifest: [{ paths: ['weights.bin'], weights: specs }], sha256: { 'weights.bin': sha256(bytes) } };
  writeAtomic(join(dir, 'model.json'), JSON.stringify(json, null, 2) + '\n');
}

/**
 * Read a saved model: model.json schema-checked (errors name the file and the JSON path), the
 * weight file's sha256 verified, the manifest held to the spec's parameters.
 */
export function loadModel(dir: string): { model: StandaloneModel; json: ModelJson } {
  const path = join(dir, 'model.json');
  if (!existsSync(path)) throw new VitasError(`${dir}: no model.json here (a folder written by vitas retrain)`);
  const json = check<ModelJson>(validateModelJson, readJson(path, 'model.json'), path);
  const spec = validateSpec(json.spec, `${path}: spec`);
  const group = json.weightsManifest[0]!;
  const file = group.paths[0]!;
  const bin = join(dir, file);
  const buf = readBytes(bin, 'weight file');
  const want = json.sha256?.[file];
  if (want === undefined) warn(`${path}: no sha256 for ${file} (saved before vitas checked them); weights loaded unverified`);
  else if (sha256(buf) !== want) throw new VitasError(`${bin}: checksum mismatch (sha256 ${sha256(buf).slice(0, 12)}…, model.json says ${want.slice(0, 12)}…): the file is damaged or belongs to another model; refusing to load it`);
  checkManifest(spec, group.weights, buf.length, path, bin);
  const named = tf.io.decodeWeights(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length), group.weights);
  const model = new StandaloneModel(spec, new Map(Object.entries(named)), `${path}: spec`);
  for (const t of Object.values(named)) t.dispose();
  return { model, json };
}

/** Every parameter of the spec, at its shape, and a weight file of exactly the manifest's size. */
function checkManifest(spec: ArchSpec, weights: ModelJson['weightsManifest'][0]['weights'], bytes: number, path: string, bin: string): void {
  const listed = new Map(weights.map((w, i) => [w.name, { shape: w.shape, i }]));
  for (const e of paramList(spec)) {
    const w = listed.get(e.name);
    if (!w) throw new VitasError(`${path}: weightsManifest[0].weights: no entry "${e.name}" (the spec needs it)`);
    if (w.shape.join() !== e.shape.join()) throw new VitasError(`${path}: weightsManifest[0].weights[${w.i}].shape: [${w.shape}] is not allowed; the spec needs [${e.shape}]`);
  }
  const need = 4 * weights.reduce((a, w) => a + w.shape.reduce((x, y) => x * y, 1), 0);
  if (bytes !== need) throw new VitasError(`${bin}: ${bytes} bytes; model.json's weightsManifest needs ${need}`);
}
