/**
 * Stand-alone accuracies of an ablation's subnets, kept across ablation runs: they depend on the
 * spec, the data and the training recipe, not on the arm, and are the expensive part, so every
 * ablation over the same base trains its subnets once. One JSON file per (spec, data, recipe,
 * vitas version) in the cache folder, written atomically; a file that cannot be read back is
 * reported and trained again, never trusted.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DataConfig } from '../data/load.js';
import { checkWritable, makeDir, readJson, warn, writeAtomic } from '../io.js';
import { absoluteData, stableJson, type StandaloneResult } from '../queue/jobs.js';
import { canonicalSpec, type ArchSpec } from '../space/spec.js';
import { DEFAULT_RETRAIN, type RetrainRecipe } from '../retrain/retrain.js';
import { VERSION } from '../version.js';

/** Everything a stand-alone accuracy depends on; its hash names the cache file. */
interface CacheKey {
  spec: ArchSpec;
  data: DataConfig;
  /** the recipe with its defaults filled in, so a change of a default is a change of key */
  recipe: RetrainRecipe;
  vitas: string;
}

interface CacheFile extends CacheKey {
  result: StandaloneResult;
}

export class StandaloneCache {
  constructor(readonly dir: string) {}

  /** Fail now, with one line, if the folder cannot take files — not after the first subnet has trained. */
  checkWritable(): void {
    makeDir(this.dir, '--standalone-cache');
    checkWritable(this.dir, '--standalone-cache');
  }

  private keyOf(spec: ArchSpec, data: DataConfig, recipe: Partial<RetrainRecipe>): { key: CacheKey; path: string } {
    const key: CacheKey = { spec: canonicalSpec(spec), data: absoluteData(data), recipe: { ...DEFAULT_RETRAIN, ...recipe }, vitas: VERSION };
    const hash = createHash('sha256').update(stableJson(key)).digest('hex').slice(0, 40);
    return { key, path: join(this.dir, `${hash}.json`) };
  }

  /** The cached result of training `spec` stand-alone on `data` with `recipe`, if there is one. */
  get(spec: ArchSpec, data: DataConfig, recipe: Partial<RetrainRecipe>): StandaloneResult | undefined {
    const { key, path } = this.keyOf(spec, data, recipe);
    if (!existsSync(path)) return undefined;
    try {
      const file = readJson(path, 'stand-alone cache entry') as Partial<CacheFile>;
      const { result, ...rest } = file;
      if (stableJson(rest) !== stableJson(key)) throw new Error(`${path}: its spec, data or recipe is not the one asked for`);
      if (!result || typeof result.bestValAccuracy !== 'number' || typeof result.bestEpoch !== 'number') throw new Error(`${path}: result.bestValAccuracy or result.bestEpoch missing`);
      return result;
    } catch (e) {
      warn(`stand-alone cache: ${(e as Error).message}; training that subnet again`);
      return undefined;
    }
  }

  put(spec: ArchSpec, data: DataConfig, recipe: Partial<RetrainRecipe>, result: StandaloneResult): void {
    const { key, path } = this.keyOf(spec, data, recipe);
    const entry: CacheFile = { ...key, result: { bestEpoch: result.bestEpoch, bestValAccuracy: result.bestValAccuracy } };
    writeAtomic(path, JSON.stringify(entry, null, 2) + '\n');
  }
}
