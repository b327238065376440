/** `vitas retrain --config DEF`: the data and the retrain recipe a search definition states, under the flags given. */
import { basename, dirname } from 'node:path';
import { loadDefinition } from '../definition/definition.js';
import { VitasError } from '../errors.js';
import { DEFAULT_RETRAIN, type RetrainRecipe } from './retrain.js';

/** What the command line may set; each flag given wins over the definition. */
export interface RetrainFlags {
  data?: string;
  epochs?: number;
  batch?: number;
  lr?: number;
  dropPath?: number;
  seed?: number;
  seeds?: number[];
  validation?: number;
  limit?: number;
}

export interface RetrainSettingsResolved {
  /** a dataset name or a folder, as `--data` */
  data: string;
  validation?: number;
  limit?: number;
  epochs?: number;
  recipe: Partial<RetrainRecipe>;
  seeds?: number[];
}

const defined = <T extends object>(o: T): Partial<T> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

export function retrainSettings(flags: RetrainFlags, config?: string): RetrainSettingsResolved {
  const fromFlags = defined({ batch: flags.batch, lr: flags.lr, dropPath: flags.dropPath, seed: flags.seed });
  if (!config) {
    if (!flags.data) throw new VitasError('retrain: give --data <name|dir> or --config <search definition>');
    return { data: flags.data, ...defined({ validation: flags.validation, limit: flags.limit, epochs: flags.epochs, seeds: flags.seeds }), recipe: fromFlags };
  }
  const def = loadDefinition(config);
  const r = def.retrain ?? {};
  const { epochs, seeds, augment, ...rest } = r;
  const recipe: Partial<RetrainRecipe> = { ...rest, ...(augment ? { augment: { ...DEFAULT_RETRAIN.augment, ...augment } } : {}) };
  return {
    data: flags.data ?? def.data.dir ?? def.data.dataset,
    ...defined({ validation: flags.validation ?? def.data.validation, limit: flags.limit ?? def.data.limit, epochs: flags.epochs ?? epochs, seeds: flags.seeds ?? seeds }),
    recipe: { ...recipe, ...fromFlags },
  };
}

/**
 * Run names for spec files: the file name without `.json`; a search's `best-arch.json`, and files
 * that share a name, by the name of the folder holding them instead.
 */
export function specNames(files: readonly string[]): string[] {
  const base = files.map((f) => basename(f).replace(/\.json$/, ''));
  const byFolder = (i: number): boolean => base[i] === 'best-arch' || base.filter((b) => b === base[i]).length > 1;
  const names = files.map((f, i) => (byFolder(i) ? basename(dirname(f)) || base[i]! : base[i]!));
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new VitasError(`retrain: two spec files would both run as "${dup}" (same file and folder names); rename one`);
  return names;
}
