import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/** Repository root (tests run from dist/test). */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const fixture = (name: string): string => join(ROOT, 'test', 'fixtures', name);

import type { SearchSpace, ArchSpec } from '../src/index.js';
import { validateSpace } from '../src/index.js';

/** A space small enough for many training steps in a test. */
export const tinySpace: SearchSpace = validateSpace({
  name: 'tiny',
  input: [8, 8, 1],
  classes: 4,
  patch: [2, 4],
  stem: ['linear'],
  pos: ['learned'],
  readout: ['cls'],
  embed: [8, 16],
  blocks: 2,
  depth: { min: 1, max: 2 },
  identity: 'anywhere',
  attention: ['softmax'],
  heads: [1, 2],
  qkv: [12, 24],
  mlp: [8, 16],
  recursion: [1, 2],
  groups: [1, 2],
});

export function tinySpec(overrides: Partial<ArchSpec> = {}, block: Record<string, unknown> = {}): ArchSpec {
  return {
    version: 1, input: [8, 8, 1], classes: 4, patch: 2, stem: 'linear', embed: 8, pos: 'learned', readout: 'cls',
    blocks: [{ op: 'attn', attention: 'softmax', heads: 2, qkv: 12, mlp: 8, recursion: 1, groups: [1], ...block }, { op: 'identity' }],
    ...overrides,
  } as ArchSpec;
}

/** A tiny space holding every runnable operator of the catalogue, the conv stem and every position encoding. */
export const tinyXSpace: SearchSpace = validateSpace({
  name: 'tiny-x',
  input: [8, 8, 1],
  classes: 4,
  patch: [2, 4],
  stem: ['linear', 'conv'],
  pos: ['learned', 'rope', 'none'],
  readout: ['cls'],
  embed: [8, 16],
  blocks: 2,
  depth: { min: 1, max: 2 },
  identity: 'anywhere',
  attention: ['softmax', 'performer', 'linformer', 'nystrom', 'xnorm', 'fnet', 'mixer'],
  heads: [1, 2],
  qkv: [24, 48],
  mlp: [8, 16],
  recursion: [1, 2],
  groups: [1, 2],
  features: [4, 6],
  tokenMlp: [8, 12],
});

/** One block of each operator (with the fields it needs), as the first block of a tiny-x spec. */
export const OPERATOR_BLOCKS: Record<string, Record<string, unknown>> = {
  softmax: { attention: 'softmax', heads: 2, qkv: 24 },
  performer: { attention: 'performer', heads: 2, qkv: 24, features: 6 },
  linformer: { attention: 'linformer', heads: 2, qkv: 24, features: 4 },
  nystrom: { attention: 'nystrom', heads: 2, qkv: 24, features: 4 },
  'nystrom+conv': { attention: 'nystrom', heads: 2, qkv: 48, features: 6, conv: true },
  xnorm: { attention: 'xnorm', heads: 2, qkv: 24 },
  fnet: { attention: 'fnet', heads: 1, qkv: 0 },
  mixer: { attention: 'mixer', heads: 1, qkv: 0, tokenMlp: 8 },
  'softmax, recursion 2, groups [1, 2]': { attention: 'softmax', heads: 1, qkv: 48, recursion: 2, groups: [1, 2] },
};

/** Spec-level variants: the conv stem and RoPE, beside the plain linear stem with learned positions. */
export const STEM_POS: Record<string, Partial<ArchSpec>> = {
  'linear stem, learned pos': {},
  'conv stem': { stem: 'conv', patch: 4 },
  rope: { pos: 'rope' },
};

export function tinyXSpec(overrides: Partial<ArchSpec>, block: Record<string, unknown>): ArchSpec {
  return {
    version: 1, input: [8, 8, 1], classes: 4, patch: 2, stem: 'linear', embed: 16, pos: 'learned', readout: 'cls',
    blocks: [{ op: 'attn', mlp: 8, recursion: 1, groups: [1], ...block }, { op: 'attn', attention: 'softmax', heads: 1, qkv: 24, mlp: 8 }],
    ...overrides,
  } as ArchSpec;
}
