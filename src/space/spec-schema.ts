/** JSON Schema of the arch spec (DESIGN §4) and the checks a schema cannot express. */
import { ATTENTIONS, type ArchSpec, type AttnBlock } from './spec.js';
import { VitasError } from '../errors.js';
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
    semantic: posInt,
    classAttention: { type: 'integer', minimum: 0 },
    classBlocks: {
      type: 'array',
      items: { type: 'object', additionalProperties: false, required: ['heads', 'qkv', 'mlp'], properties: { heads: posInt, qkv: posInt, mlp: posInt } },
    },
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
  checkSemantic(spec, h / spec.patch, w / spec.patch, fail);
  checkClassAttention(spec, fail);
  return spec;
}

/** Dual-ViT's M: one per spec, a square ≥ 4 whose √M×√M pool fits the patch grid, present iff a block is `dual`. */
function checkSemantic(spec: ArchSpec, gh: number, gw: number, fail: (p: string, m: string) => never): void {
  const dual = spec.blocks.findIndex((b) => b.op === 'attn' && b.attention === 'dual');
  const m = spec.semantic;
  if (m === undefined) {
    if (dual >= 0) fail('semantic', `is required: blocks[${dual}] has attention "dual" (M semantic tokens, a square ≥ 4 such as 4 or 16)`);
    return;
  }
  if (dual < 0) fail('semantic', `is only allowed when a block has attention "dual"`);
  const s = Math.round(Math.sqrt(m));
  if (m < 4 || s * s !== m) fail('semantic', `${m} must be a square ≥ 4 (the patch grid is pooled to √M×√M cells): 4, 9, 16, …`);
  if (s > Math.min(gh, gw)) fail('semantic', `${m} needs a ${s}×${s} pool of the ${gh}×${gw} patch grid; at most ${Math.min(gh, gw) ** 2}`);
}

/** CaiT's class attention: needs the class token; one `classBlocks` entry per layer. */
function checkClassAttention(spec: ArchSpec, fail: (p: string, m: string) => never): void {
  const L = spec.classAttention ?? 0;
  const cbs = spec.classBlocks;
  if (L > 0 && spec.readout !== 'cls') fail('classAttention', `${L} needs readout "cls" (the class token is what queries the patches)`);
  if ((cbs?.length ?? 0) !== L) fail('classBlocks', `has ${cbs?.length ?? 0} entries; needs one per class-attention layer (classAttention = ${L})`);
  cbs?.forEach((cb, j) => {
    if (cb.qkv % 3 !== 0) fail(`classBlocks[${j}].qkv`, `${cb.qkv} must be a positive multiple of 3 (q, k and v widths together)`);
    if ((cb.qkv / 3) % cb.heads !== 0) fail(`classBlocks[${j}].heads`, `${cb.heads} does not divide qkv/3 = ${cb.qkv / 3}`);
  });
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
