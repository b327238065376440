/** JSON Schema of the arch spec (DESIGN §4) and the checks a schema cannot express. */
import { ATTENTIONS, type ArchSpec, type AttnBlock } from './spec.js';
import { VitasError } from './errors.js';
import { ajv, check } from './validate.js';

const posInt = { type: 'integer', minimum: 1 } as const;

export const archSpecSchema = {
  $id: 'https://vitas.dev/schema/arch-spec-v1.json',
  title: 'vitas arch spec',
  type: 'object',
  additionalProperties: false,
  required: ['version', 'input', 'classes', 'patch', 'stem', 'embed', 'pos', 'blocks', 'readout'],
  properties: {
    $schema: { type: 'string' },
    /** free-form provenance (cost, score, evaluator, seed, tool version) written by search */
    meta: { type: 'object' },
    version: { const: 1 },
    input: { type: 'array', items: posInt, minItems: 3, maxItems: 3 },
    classes: { type: 'integer', minimum: 2 },
    patch: posInt,
    stem: { enum: ['linear', 'conv'] },
    embed: posInt,
    pos: { enum: ['learned', 'rope', 'none'] },
    readout: { enum: ['cls', 'mean'] },
    blocks: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['op'],
        discriminator: { propertyName: 'op' },
        oneOf: [
          { type: 'object', additionalProperties: false, required: ['op'], properties: { op: { const: 'identity' } } },
          {
            type: 'object',
            additionalProperties: false,
            required: ['op', 'attention', 'heads', 'qkv', 'mlp'],
            properties: {
              op: { const: 'attn' },
              attention: { enum: [...ATTENTIONS] },
              heads: posInt,
              qkv: { type: 'integer', minimum: 0 },
              mlp: posInt,
              recursion: posInt,
              groups: { type: 'array', items: posInt, minItems: 1 },
              features: posInt,
              tokenMlp: posInt,
              lpi: { type: 'boolean' },
              conv: { type: 'boolean' },
            },
          },
        ],
      },
    },
  },
} as const;

const validateSchema = ajv.compile(archSpecSchema);

/**
 * Check a parsed JSON value as an arch spec; throws a one-line VitasError naming `where`
 * and the JSON path (`blocks[3].heads: 5 does not divide qkv/3 = 144`).
 */
export function validateSpec(data: unknown, where = 'spec'): ArchSpec {
  const spec = check<ArchSpec>(validateSchema, data, where);
  const fail = (path: string, msg: string): never => {
    throw new VitasError(`${where}: ${path}: ${msg}`);
  };
  const [h, w] = spec.input;
  if (h % spec.patch !== 0 || w % spec.patch !== 0) fail('patch', `${spec.patch} does not divide the input ${h}×${w}`);
  const patches = (h / spec.patch) * (w / spec.patch);
  if (spec.stem === 'conv' && spec.patch % 4 !== 0) fail('patch', `${spec.patch} with stem "conv" must be a multiple of 4 (two stride-2 convs)`);
  if (!spec.blocks.some((b) => b.op !== 'identity')) fail('blocks', 'needs at least one non-identity block');
  spec.blocks.forEach((b, i) => {
    if (b.op === 'attn') checkBlock(b, `blocks[${i}]`, patches, spec.pos, fail);
  });
  return spec;
}

function checkBlock(b: AttnBlock, path: string, patches: number, pos: ArchSpec['pos'], fail: (p: string, m: string) => never): void {
  const r = b.recursion ?? 1;
  const mixesWithoutQkv = b.attention === 'fnet' || b.attention === 'mixer';
  if (mixesWithoutQkv) {
    if (b.qkv !== 0) fail(`${path}.qkv`, `${b.qkv} must be 0 for attention "${b.attention}" (it has no q, k, v)`);
    if (b.heads !== 1) fail(`${path}.heads`, `${b.heads} must be 1 for attention "${b.attention}"`);
  } else {
    if (b.qkv === 0 || b.qkv % 3 !== 0) fail(`${path}.qkv`, `${b.qkv} must be a positive multiple of 3 (q, k and v widths together)`);
    const inner = b.qkv / 3;
    if (inner % b.heads !== 0) fail(`${path}.heads`, `${b.heads} does not divide qkv/3 = ${inner}`);
    if (pos === 'rope' && (inner / b.heads) % 4 !== 0) fail(`${path}.heads`, `head dim ${inner / b.heads} must be a multiple of 4 for pos "rope" (two axes of rotated pairs)`);
  }
  const needsFeatures = b.attention === 'performer' || b.attention === 'linformer' || b.attention === 'nystrom';
  if (needsFeatures && b.features === undefined) fail(`${path}.features`, `is required for attention "${b.attention}"`);
  if (!needsFeatures && b.features !== undefined) fail(`${path}.features`, `is only allowed for performer, linformer, nystrom`);
  if (b.attention === 'mixer' && b.tokenMlp === undefined) fail(`${path}.tokenMlp`, 'is required for attention "mixer"');
  if (b.attention !== 'mixer' && b.tokenMlp !== undefined) fail(`${path}.tokenMlp`, 'is only allowed for attention "mixer"');
  if (b.conv && b.attention !== 'nystrom') fail(`${path}.conv`, 'is only allowed for attention "nystrom"');
  if (b.groups !== undefined) {
    if (b.groups.length !== r) fail(`${path}.groups`, `has ${b.groups.length} entries; needs one per recursion pass (${r})`);
    b.groups.forEach((g, k) => {
      if (g > patches) fail(`${path}.groups[${k}]`, `${g} groups exceed the ${patches} patch tokens`);
      if (g > 1 && b.attention !== 'softmax') fail(`${path}.groups[${k}]`, `${g}: sliced group attention needs attention "softmax"`);
    });
  }
}

/** Parse JSON text as a spec, naming the file in errors. */
export function parseSpec(text: string, where: string): ArchSpec {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new VitasError(`${where}: not valid JSON (${(e as Error).message})`);
  }
  return validateSpec(data, where);
}
