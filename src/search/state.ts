/**
 * A search run folder's saved files, read back for `--resume`: `state.json` (population, history,
 * RNG) and `config.json` (space, budget, settings, the flags it was started with). Both are
 * schema-checked, so a truncated or foreign file is one line naming the file and JSON path.
 */
import { readJson } from '../io.js';
import { archSpecSchema } from '../space/spec-schema.js';
import { ajv, check } from '../space/validate.js';
import { VitasError } from '../errors.js';
import { validateSpace, type SearchSpace } from '../space/space.js';
import { validateDefinition, type SearchDefinition } from '../definition/definition.js';
import type { Constraints, EvolutionConfig, SearchState } from './evolution.js';

/** The user-facing flags a search was started with, kept to print a resume command that works. */
export interface SearchCommand {
  budget?: string;
  min?: string;
  config?: string;
  space?: string;
  data?: string;
  supernet?: string;
  evaluator?: string;
  proxy?: string;
  strategy?: string;
  population?: number;
  generations?: number;
  seed?: number;
  convention?: string;
  minParams?: string;
  maxParams?: string;
  maxLatencyMs?: number;
  queue?: string;
}

/** config.json of a search run. */
export interface SearchRunConfig {
  vitas: string;
  space: SearchSpace;
  budget: Constraints['macs'];
  /** absent in runs written before resume checked its flags */
  constraints?: Constraints;
  evolution: EvolutionConfig;
  evaluator: string;
  /** the training-free proxy of a proxy search; absent in runs from before there was a choice (they used snip) */
  proxy?: string;
  reason: string | null;
  definition: SearchDefinition | null;
  supernet: string | null;
  command?: SearchCommand;
}

const int0 = { type: 'integer', minimum: 0 } as const;
const int1 = { type: 'integer', minimum: 1 } as const;
const unit = { type: 'number', minimum: 0, maximum: 1 } as const;

const evolutionSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['strategy', 'population', 'generations', 'parents', 'mutations', 'crossovers', 'mutationProb', 'depthEmbedProb', 'maxTries', 'seed'],
  properties: {
    strategy: { enum: ['evolution', 'random'] },
    population: int1,
    generations: int1,
    parents: int1,
    mutations: int0,
    crossovers: int0,
    mutationProb: unit,
    depthEmbedProb: unit,
    pId: unit,
    maxTries: int1,
    seed: { type: 'integer' },
  },
} as const;

const constraintsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['macs'],
  properties: {
    macs: {
      type: 'object',
      additionalProperties: false,
      required: ['min', 'max', 'convention'],
      properties: { min: { type: 'number', minimum: 0 }, max: { type: 'number', minimum: 0 }, convention: { enum: ['macs', 'vitas'] } },
    },
    params: { type: 'object', additionalProperties: false, properties: { min: { type: 'number', minimum: 0 }, max: { type: 'number', minimum: 0 } } },
    latency: {
      type: 'object',
      additionalProperties: false,
      required: ['maxMs', 'batch'],
      properties: { maxMs: { type: 'number', exclusiveMinimum: 0 }, batch: int1 },
    },
  },
} as const;

export const searchStateSchema = {
  $id: 'https://vitas.dev/schema/search-state-v1.json',
  title: 'vitas search state (state.json)',
  type: 'object',
  additionalProperties: false,
  required: ['version', 'config', 'constraints', 'generation', 'history', 'population', 'rng'],
  properties: {
    version: { const: 1 },
    config: evolutionSchema,
    constraints: constraintsSchema,
    generation: int0,
    history: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['spec', 'macs', 'params', 'score', 'generation'],
        properties: {
          spec: { $ref: archSpecSchema.$id },
          macs: { type: 'number', minimum: 0 },
          params: { type: 'number', minimum: 0 },
          // JSON has no NaN: a score that was not finite is saved as null
          score: { type: ['number', 'null'] },
          generation: int0,
        },
      },
    },
    population: { type: 'array', items: { type: 'string' } },
    // seedrandom's ARC4 state
    rng: {
      type: 'object',
      additionalProperties: false,
      required: ['i', 'j', 'S'],
      properties: {
        i: { type: 'integer', minimum: 0, maximum: 255 },
        j: { type: 'integer', minimum: 0, maximum: 255 },
        S: { type: 'array', items: { type: 'integer', minimum: 0, maximum: 255 }, minItems: 256, maxItems: 256 },
      },
    },
  },
} as const;

const optionalString = { type: 'string' } as const;

export const searchRunConfigSchema = {
  $id: 'https://vitas.dev/schema/search-run-config-v1.json',
  title: 'vitas search run config (config.json)',
  type: 'object',
  additionalProperties: false,
  required: ['vitas', 'space', 'budget', 'evolution', 'evaluator', 'definition', 'supernet'],
  properties: {
    vitas: { type: 'string' },
    // checked by the space's own schema below
    space: { type: 'object' },
    budget: constraintsSchema.properties.macs,
    constraints: constraintsSchema,
    evolution: evolutionSchema,
    evaluator: { type: 'string', minLength: 1 },
    proxy: { type: 'string', minLength: 1 },
    reason: { type: ['string', 'null'] },
    // checked by the definition's own schema below
    definition: { type: ['object', 'null'] },
    supernet: { type: ['string', 'null'] },
    command: {
      type: 'object',
      additionalProperties: false,
      properties: {
        budget: optionalString, min: optionalString, config: optionalString, space: optionalString, data: optionalString, supernet: optionalString,
        evaluator: optionalString, proxy: optionalString, strategy: optionalString, queue: optionalString, convention: optionalString, minParams: optionalString, maxParams: optionalString,
        population: int1, generations: int1, seed: { type: 'integer' }, maxLatencyMs: { type: 'number', exclusiveMinimum: 0 },
      },
    },
  },
} as const;

const validateState = ajv.compile(searchStateSchema);
const validateRunConfig = ajv.compile(searchRunConfigSchema);

export function loadSearchState(path: string): SearchState {
  return check<SearchState>(validateState, readJson(path, 'search state'), path);
}

export function loadRunConfig(path: string): SearchRunConfig {
  const c = check<SearchRunConfig>(validateRunConfig, readJson(path, 'search run config'), path);
  c.space = validateSpace(c.space, `${path}: space`);
  if (c.definition) c.definition = validateDefinition(c.definition, `${path}: definition`);
  return c;
}

/** A state.json beside another run's config.json (copied in, or from an older run) is refused rather than mixed. */
export function checkStateBelongs(state: SearchState, config: SearchRunConfig, statePath: string, configPath: string): void {
  const saved = config.evolution;
  const differ = (what: string, a: unknown, b: unknown): never => {
    throw new VitasError(`${statePath}: does not belong to ${configPath}: ${what} ${JSON.stringify(a)} there, ${JSON.stringify(b)} in config.json`);
  };
  for (const k of ['strategy', 'population', 'seed'] as const) if (state.config[k] !== saved[k]) differ(k, state.config[k], saved[k]);
  const m = state.constraints.macs;
  if (m.min !== config.budget.min || m.max !== config.budget.max || m.convention !== config.budget.convention) differ('budget', m, config.budget);
}

/** Quote for a POSIX shell only when needed, so the printed command can be pasted. */
function shellWord(w: string): string {
  return /^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}

const FLAGS: [keyof SearchCommand, string][] = [
  ['config', '--config'], ['space', '--space'], ['budget', '--budget'], ['min', '--min'], ['convention', '--convention'],
  ['data', '--data'], ['supernet', '--supernet'], ['evaluator', '--evaluator'], ['proxy', '--proxy'], ['strategy', '--strategy'],
  ['population', '--population'], ['generations', '--generations'], ['seed', '--seed'],
  ['minParams', '--min-params'], ['maxParams', '--max-params'], ['maxLatencyMs', '--max-latency-ms'], ['queue', '--queue'],
];

/** `vitas search <the saved flags> --out DIR --resume`: the command that continues the run in `out`. */
export function resumeCommand(out: string, command: SearchCommand = {}): string {
  const words = ['vitas', 'search'];
  for (const [key, flag] of FLAGS) {
    const v = command[key];
    if (v !== undefined) words.push(flag, String(v));
  }
  words.push('--out', out, '--resume');
  return words.map(shellWord).join(' ');
}
