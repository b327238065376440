/** Ablation definitions (searches/ablations/*.json): a base search definition, the factors to vary, the metrics. */
import { dirname, isAbsolute, resolve } from 'node:path';
import { readJson } from '../io.js';
import { VitasError } from '../errors.js';
import { ajv, check } from '../space/validate.js';
import { validateDefinition, type SearchDefinition } from '../definition/definition.js';

export const FACTORS = {
  privateTokens: [true, false],
  privateAttention: [true, false],
  /** Q and K per SReT group count (vitas's extension; the base shares them) */
  privateGroups: [true, false],
  identitySearch: [true, false],
  slicing: ['left', 'two-sided'],
  recursion: [true, false],
  strategy: ['evolution', 'random'],
  /** in-place distillation; both arms train with the sandwich rule (its largest subnet is the teacher), so only distillation differs */
  distillation: [true, false],
} as const;

export type FactorName = keyof typeof FACTORS;
export type FactorValue = boolean | string;

export interface AblationDefinition {
  name: string;
  description?: string;
  /** a search definition file (relative to this file) or one inline */
  base: string | SearchDefinition;
  /** each factor with the values to try; arms are every combination (give this or `arms`) */
  factors?: Partial<Record<FactorName, FactorValue[]>>;
  /** the arms listed one by one, each a setting of some factors (the others keep the base's); for comparisons a crossing would blow up, e.g. all of three changes against none */
  arms?: Partial<Record<FactorName, FactorValue>>[];
  metrics: {
    /**
     * ranking fidelity: Kendall τ between inherited and stand-alone accuracy over K subnets of
     * matched cost, with a bootstrap interval from `bootstrap` resamples (2000); the data-free
     * proxies are ranked against the same stand-alone accuracies
     */
    kendall?: { subnets: number; epochs: number; valImages?: number; bootstrap?: number; /** stand-alone trainings per subnet (1): the ground truth is their mean, and seed 1 against seed 2 is reported */ seeds?: number };
    /** the best searched spec per arm, its inherited accuracy */
    search?: boolean;
    /** ... and its accuracy after retraining from scratch for this many epochs */
    retrain?: { epochs: number };
  };
}

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'base', 'metrics'],
  properties: {
    $schema: { type: 'string' },
    name: { type: 'string', minLength: 1 },
    description: { type: 'string' },
    base: { oneOf: [{ type: 'string' }, { type: 'object' }] },
    factors: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      properties: Object.fromEntries(Object.entries(FACTORS).map(([k, v]) => [k, { type: 'array', minItems: 1, uniqueItems: true, items: { enum: [...v] } }])),
    },
    arms: {
      type: 'array',
      minItems: 1,
      items: { type: 'object', additionalProperties: false, properties: Object.fromEntries(Object.entries(FACTORS).map(([k, v]) => [k, { enum: [...v] }])) },
    },
    metrics: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      properties: {
        kendall: {
          type: 'object',
          additionalProperties: false,
          required: ['subnets', 'epochs'],
          properties: { subnets: { type: 'integer', minimum: 3 }, epochs: { type: 'integer', minimum: 1 }, valImages: { type: 'integer', minimum: 1 }, bootstrap: { type: 'integer', minimum: 100 }, seeds: { type: 'integer', minimum: 1, maximum: 5 } },
        },
        search: { type: 'boolean' },
        retrain: { type: 'object', additionalProperties: false, required: ['epochs'], properties: { epochs: { type: 'integer', minimum: 1 } } },
      },
    },
  },
} as const;

const validate = ajv.compile(schema);

export function loadAblation(pathOrDef: string | AblationDefinition): { def: AblationDefinition; base: SearchDefinition; baseDir: string } {
  const where = typeof pathOrDef === 'string' ? pathOrDef : 'ablation';
  const def = check<AblationDefinition>(validate, typeof pathOrDef === 'string' ? readJson(pathOrDef, 'ablation definition') : pathOrDef, where);
  const dir = typeof pathOrDef === 'string' ? dirname(pathOrDef) : process.cwd();
  if ((def.factors === undefined) === (def.arms === undefined)) throw new VitasError(`${where}: give factors (crossed into arms) or arms (listed one by one), one of the two`);
  if (def.metrics.retrain && !def.metrics.search) throw new VitasError(`${where}: metrics.retrain needs metrics.search (it retrains the searched spec)`);
  if (typeof def.base === 'string') {
    const p = isAbsolute(def.base) ? def.base : resolve(dir, def.base);
    return { def, base: validateDefinition(readJson(p, 'base search definition'), p), baseDir: dirname(p) };
  }
  return { def, base: validateDefinition(def.base, `${where}: base`), baseDir: dir };
}

/** Every combination of the factor values. */
export function arms(factors: NonNullable<AblationDefinition['factors']>): Record<string, FactorValue>[] {
  let out: Record<string, FactorValue>[] = [{}];
  for (const [k, values] of Object.entries(factors)) out = out.flatMap((a) => (values ?? []).map((v) => ({ ...a, [k]: v })));
  return out;
}

/** The arms of a definition: its listed ones, or every combination of its factors. */
export function armsOf(def: Pick<AblationDefinition, 'factors' | 'arms'>): Record<string, FactorValue>[] {
  return def.arms ? def.arms.map((a) => ({ ...a }) as Record<string, FactorValue>) : arms(def.factors ?? {});
}

/** The factors any arm sets, in the order they first appear. */
export function factorNames(def: Pick<AblationDefinition, 'factors' | 'arms'>): string[] {
  return [...new Set(armsOf(def).flatMap((a) => Object.keys(a)))];
}

/** "privateTokens=off, strategy=random"; the arm that sets nothing is the base. */
export function armName(arm: Record<string, FactorValue>): string {
  if (Object.keys(arm).length === 0) return 'base';
  return Object.entries(arm)
    .map(([k, v]) => (typeof v === 'boolean' ? `${k}=${v ? 'on' : 'off'}` : `${k}=${v}`))
    .join(', ');
}
