/**
 * vitas — the public library API. The CLI is a thin shell over these functions; ablations and
 * notebooks call the same ones.
 */
import { readJson } from './io.js';
import { costReport, type Convention, type LayerCost } from './space/cost.js';
import { presetArch, SPACES } from './space/presets.js';
import { reachableRange } from './space/range.js';
import { validateSpec } from './space/spec-schema.js';
import type { ArchSpec } from './space/spec.js';

export * from './space/index.js';
export * from './errors.js';
export { countMacs, type MacCount } from './backend/mac-count.js';
export { initBackend, selectBackend, parseBackendName, BACKENDS, type BackendInfo, type BackendName, type BackendLoader } from './backend/index.js';
export { markdownTable, withCommas } from './report/markdown.js';
export { writeAtomic, readJson } from './io.js';

export { VERSION } from './version.js';

/** Read and validate an arch spec file; errors name the file and the JSON path. */
export function loadSpec(path: string): ArchSpec {
  return validateSpec(readJson(path, 'spec'), path);
}

export interface FlopsResult {
  macs: number;
  params: number;
  convention: Convention;
  layers: LayerCost[];
}

/** Cost of a spec (or preset network name) in one convention, per layer and in total. */
export function flops(spec: ArchSpec | string, convention: Convention = 'macs'): FlopsResult {
  const s = typeof spec === 'string' ? presetArch(spec) : validateSpec(spec);
  const r = costReport(s, convention);
  return { macs: r.total.macs, params: r.total.params, convention, layers: r.layers };
}

export interface SpaceSummary {
  name: string;
  description: string;
  minMacs: number;
  maxMacs: number;
  convention: Convention;
}

/** Every preset space with its exact reachable MACs range. */
export function listSpaces(convention: Convention = 'macs'): SpaceSummary[] {
  return Object.values(SPACES).map((s) => {
    const r = reachableRange(s, convention);
    return { name: s.name, description: s.description ?? '', minMacs: r.min, maxMacs: r.max, convention };
  });
}
export * from './supernet/index.js';
export * from './data/index.js';
export * from './definition/index.js';
export * from './train/index.js';
export * from './retrain/index.js';
export * from './evaluators/index.js';
export * from './space/load.js';
export * from './search/evolution.js';
export * from './search/run.js';
export * from './report/svg.js';
export * from './report/stats.js';
export * from './ablation/index.js';
export * from './queue/index.js';
