/**
 * Search definitions (searches/*.json): space + data + budget window + supernet recipe,
 * schema-checked. Their own module: supernet training and search both read them, and neither
 * imports the other.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { readJson } from '../io.js';
import type { DataConfig } from '../data/load.js';
import { DATASETS } from '../data/load.js';
import { parseBudget } from '../space/budget.js';
import type { Convention } from '../space/cost.js';
import { VitasError } from '../errors.js';
import { presetSpace, SPACES } from '../space/presets.js';
import { validateSpace, type SearchSpace } from '../space/space.js';
import { ajv, check } from '../space/validate.js';
import type { SupernetRecipe } from '../train/supernet-recipe.js';

export interface SearchDefinition {
  name: string;
  /** a preset space name or a space file (relative to the definition) */
  space: string;
  data: DataConfig;
  budget: { max: string | number; min?: string | number; convention?: Convention };
  supernet?: Partial<SupernetRecipe>;
  search?: SearchSettings;
  /** how a searched spec (and what it is compared with) is trained from scratch: `vitas retrain --config` */
  retrain?: RetrainSettings;
}

/** The retrain recipe of a definition (defaults: DEFAULT_RETRAIN in src/retrain/retrain.ts). */
export interface RetrainSettings {
  epochs?: number;
  batch?: number;
  lr?: number;
  minLr?: number;
  weightDecay?: number;
  warmupEpochs?: number;
  labelSmoothing?: number;
  dropPath?: number;
  augment?: { crop?: number; flip?: boolean };
  /** retrain seeds for `--config` runs that give no --seeds */
  seeds?: number[];
}

export interface SearchSettings {
  population?: number;
  generations?: number;
  parents?: number;
  mutations?: number;
  crossovers?: number;
  mutationProb?: number;
  depthEmbedProb?: number;
  /** validation images scored per candidate by the supernet evaluator (default all) */
  valImages?: number;
  seed?: number;
}

/** What the supernet and the retrain recipes share: the optimiser, the schedule and the augmentation. */
const trainingFields = {
  epochs: { type: 'integer', minimum: 1 },
  batch: { type: 'integer', minimum: 1 },
  lr: { type: 'number', exclusiveMinimum: 0 },
  minLr: { type: 'number', minimum: 0 },
  weightDecay: { type: 'number', minimum: 0 },
  warmupEpochs: { type: 'number', minimum: 0 },
  labelSmoothing: { type: 'number', minimum: 0, maximum: 1 },
  augment: {
    type: 'object',
    additionalProperties: false,
    properties: { crop: { type: 'integer', minimum: 0 }, flip: { type: 'boolean' } },
  },
} as const;

const budgetValue = { oneOf: [{ type: 'string', minLength: 1 }, { type: 'number', exclusiveMinimum: 0 }] } as const;

export const searchDefinitionSchema = {
  $id: 'https://vitas.dev/schema/search-definition-v1.json',
  type: 'object',
  additionalProperties: false,
  required: ['name', 'space', 'data', 'budget'],
  properties: {
    $schema: { type: 'string' },
    name: { type: 'string', minLength: 1 },
    description: { type: 'string' },
    space: { type: 'string', minLength: 1 },
    data: {
      type: 'object',
      additionalProperties: false,
      required: ['dataset', 'validation'],
      properties: {
        dataset: { enum: [...DATASETS] },
        dir: { type: 'string' },
        validation: { type: 'integer', minimum: 1 },
        limit: { type: 'integer', minimum: 2 },
        size: { type: 'integer', minimum: 1 },
        channels: { enum: [1, 3] },
        classes: { type: 'integer', minimum: 2 },
        seed: { type: 'integer' },
      },
    },
    budget: {
      type: 'object',
      additionalProperties: false,
      required: ['max'],
      properties: { max: budgetValue, min: budgetValue, convention: { enum: ['macs', 'vitas'] } },
    },
    supernet: {
      type: 'object',
      additionalProperties: false,
      properties: {
        ...trainingFields,
        slicing: { enum: ['left', 'two-sided'] },
        sandwich: { type: 'boolean' },
        randomSubnets: { type: 'integer', minimum: 1, maximum: 8 },
        corners: { type: 'boolean' },
        distill: { type: 'boolean' },
        sampling: { enum: ['uniform', 'identity-search'] },
        seed: { type: 'integer' },
        privateTokens: { type: 'boolean' },
        privateAttention: { type: 'boolean' },
        privateGroups: { type: 'boolean' },
      },
    },
    retrain: {
      type: 'object',
      additionalProperties: false,
      properties: {
        ...trainingFields,
        dropPath: { type: 'number', minimum: 0, maximum: 1 },
        seeds: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'integer', minimum: 0 } },
      },
    },
    search: {
      type: 'object',
      additionalProperties: false,
      properties: {
        population: { type: 'integer', minimum: 2 },
        generations: { type: 'integer', minimum: 1 },
        parents: { type: 'integer', minimum: 1 },
        mutations: { type: 'integer', minimum: 0 },
        crossovers: { type: 'integer', minimum: 0 },
        mutationProb: { type: 'number', minimum: 0, maximum: 1 },
        depthEmbedProb: { type: 'number', minimum: 0, maximum: 1 },
        valImages: { type: 'integer', minimum: 1 },
        seed: { type: 'integer' },
      },
    },
  },
} as const;

const validate = ajv.compile(searchDefinitionSchema);

export function validateDefinition(data: unknown, where = 'search definition'): SearchDefinition {
  const d = check<SearchDefinition>(validate, data, where);
  const max = parseBudget(d.budget.max, `${where}: budget.max`);
  if (d.budget.min !== undefined && parseBudget(d.budget.min, `${where}: budget.min`) > max) throw new VitasError(`${where}: budget.min exceeds budget.max`);
  if (d.supernet?.distill && !d.supernet.sandwich) throw new VitasError(`${where}: supernet.distill: in-place distillation needs "sandwich": true (the largest subnet of each step is the teacher)`);
  if (d.supernet?.corners && !d.supernet.sandwich) throw new VitasError(`${where}: supernet.corners: the depth corners extend the sandwich; they need "sandwich": true`);
  return d;
}

export function loadDefinition(path: string): SearchDefinition {
  return validateDefinition(readJson(path, 'search definition'), path);
}

/** The definition's space: a preset name, or a space file relative to the definition. */
export function resolveSpace(def: SearchDefinition, defPath: string): SearchSpace {
  if (SPACES[def.space]) return presetSpace(def.space);
  const p = isAbsolute(def.space) ? def.space : resolve(dirname(defPath), def.space);
  return validateSpace(readJson(p, 'search space'), p);
}
