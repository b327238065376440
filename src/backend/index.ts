/**
 * TensorFlow.js backend selection (DESIGN §2): tfjs-node-gpu (CUDA), tfjs-node, wasm, cpu —
 * the first that loads. `--backend NAME` / VITAS_BACKEND force one and fail loudly if it cannot load.
 */
import * as tf from '@tensorflow/tfjs-core';
import './gradients.js';
import { registerWasmKernels } from './kernels.js';
import { VitasError } from '../errors.js';

export const BACKENDS = ['node-gpu', 'node', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

export interface BackendInfo {
  name: BackendName;
  /** the name tfjs knows it by (`tensorflow`, `wasm`, `cpu`) */
  tfBackend: string;
  tfjsVersion: string;
  threads: number;
  simd: boolean | null;
  /** backends tried before this one, with why each was skipped */
  skipped: { name: BackendName; reason: string }[];
}

/** Loads one backend and makes it current; throws with the reason when it cannot. */
export type BackendLoader = () => Promise<void>;

async function importOptional(specifier: string): Promise<void> {
  // a variable specifier: these packages are optional and absent on most machines
  const name = specifier;
  await import(name);
}

async function activate(tfName: string): Promise<void> {
  let ok: boolean;
  try {
    ok = await tf.setBackend(tfName);
  } catch (e) {
    throw new Error(`setBackend('${tfName}') threw: ${firstLine(e)}`);
  }
  if (!ok || tf.getBackend() !== tfName) throw new Error(`setBackend('${tfName}') failed`);
  await tf.ready();
}

function nativeLoader(pkg: string): BackendLoader {
  return async () => {
    try {
      await importOptional(pkg);
    } catch (e) {
      const code = (e as { code?: string }).code;
      throw new Error(code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' ? `${pkg} is not installed (its install needs to download libtensorflow)` : `${pkg} failed to load: ${firstLine(e)}`);
    }
    if (!tf.findBackend('tensorflow')) throw new Error(`${pkg} loaded but registered no "tensorflow" backend on this copy of tfjs-core (version mismatch?)`);
    await activate('tensorflow');
  };
}

export const DEFAULT_LOADERS: Record<BackendName, BackendLoader> = {
  'node-gpu': nativeLoader('@tensorflow/tfjs-node-gpu'),
  node: nativeLoader('@tensorflow/tfjs-node'),
  wasm: async () => {
    await import('@tensorflow/tfjs-backend-wasm');
    registerWasmKernels();
    await activate('wasm');
  },
  cpu: async () => {
    await import('@tensorflow/tfjs-backend-cpu');
    await activate('cpu');
  },
};

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0]!;
}

export function parseBackendName(value: string, flag = '--backend'): BackendName {
  const v = value.trim().toLowerCase();
  const alias: Record<string, BackendName> = { tensorflow: 'node', gpu: 'node-gpu', 'tensorflow-gpu': 'node-gpu' };
  const name = (alias[v] ?? v) as BackendName;
  if (!BACKENDS.includes(name)) throw new VitasError(`${flag}: "${value}" is not a backend; allowed: ${BACKENDS.join(', ')}`);
  return name;
}

/**
 * Try `order` in turn with `loaders`; the first that loads wins. With `force`, only that one is
 * tried and its failure is an error.
 */
export async function selectBackend(opts: { force?: BackendName; loaders?: Partial<Record<BackendName, BackendLoader>> } = {}): Promise<Pick<BackendInfo, 'name' | 'skipped'>> {
  const loaders = { ...DEFAULT_LOADERS, ...opts.loaders };
  const order: readonly BackendName[] = opts.force ? [opts.force] : BACKENDS;
  const skipped: { name: BackendName; reason: string }[] = [];
  for (const name of order) {
    try {
      await loaders[name]();
      return { name, skipped };
    } catch (e) {
      skipped.push({ name, reason: firstLine(e) });
    }
  }
  if (opts.force) throw new VitasError(`--backend ${opts.force}: cannot load: ${skipped[0]!.reason}`);
  throw new VitasError(`no TensorFlow.js backend could load: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}

let current: Promise<BackendInfo> | undefined;
let currentKey: string | undefined;

/**
 * Initialise the backend once per process (forced by `backend`, else VITAS_BACKEND, else the
 * first that loads) and describe it.
 */
export function initBackend(backend?: string): Promise<BackendInfo> {
  const requested = backend ?? process.env.VITAS_BACKEND;
  const key = requested ?? 'auto';
  if (current && currentKey === key) return current;
  currentKey = key;
  current = (async () => {
    const force = requested ? parseBackendName(requested, backend ? '--backend' : 'VITAS_BACKEND') : undefined;
    const chosen = await selectBackend(force ? { force } : {});
    return describeBackend(chosen.name, chosen.skipped);
  })();
  current.catch(() => {
    current = undefined;
  });
  return current;
}

async function describeBackend(name: BackendName, skipped: BackendInfo['skipped']): Promise<BackendInfo> {
  let threads = 1;
  let simd: boolean | null = null;
  if (name === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    threads = wasm.getThreadsCount();
    simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  } else if (name !== 'cpu') {
    threads = Number(process.env.TF_NUM_INTRAOP_THREADS ?? 0) || (await import('node:os')).availableParallelism();
  }
  return { name, tfBackend: tf.getBackend(), tfjsVersion: tf.version_core, threads, simd, skipped };
}

export { tf };
