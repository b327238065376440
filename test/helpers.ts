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
