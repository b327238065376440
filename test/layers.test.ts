/**
 * The layering of src/, read from the import statements of its TypeScript files (type-only
 * imports included): which module may use which.
 */
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { ROOT } from './helpers.js';

const SRC = join(ROOT, 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

interface Import {
  /** a file relative to src/ (`train/loop.ts`), or a package by name (`@tensorflow/tfjs-core`, `node:fs`) */
  to: string;
  /** `import type` / `export type`: gone at run time */
  typeOnly: boolean;
}

/** file (relative to src/) → what it imports */
const imports = new Map(
  sources(SRC).map((file) => {
    const text = readFileSync(file, 'utf8');
    const found = [...text.matchAll(/^\s*(?:import|export)\b(\s+type\b)?[^;]*?\bfrom\s+'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/gms)].map((m) => ({ spec: (m[2] ?? m[3])!, typeOnly: Boolean(m[1]) }));
    const deps = found.map(({ spec, typeOnly }): Import => ({ to: spec.startsWith('.') ? relative(SRC, resolve(dirname(file), spec)).replace(/\.js$/, '.ts') : spec, typeOnly }));
    return [relative(SRC, file), deps] as const;
  }),
);
/** every import, type-only ones included */
const graph = new Map([...imports].map(([f, deps]) => [f, deps.map((d) => d.to)]));

const under = (dir: string) => (path: string): boolean => path.startsWith(`${dir}/`);
/** imports of the files under `from` that `bad` picks out, as "file → import" */
const importsOf = (from: (f: string) => boolean, bad: (dep: string) => boolean): string[] => [...graph].filter(([f]) => from(f)).flatMap(([f, deps]) => deps.filter(bad).map((d) => `${f} → ${d}`));

describe('layering of src/', () => {
  it('reads the imports of every source file', () => {
    expect(graph.size).to.be.above(100);
    expect(graph.get('supernet/trainer.ts')).to.include('train/loop.ts');
  });

  it('supernet training and search do not import each other: search definitions live in src/definition, the wiring in src/evaluators', () => {
    expect(importsOf(under('supernet'), under('search'))).to.deep.equal([]);
    expect(importsOf(under('search'), under('supernet'))).to.deep.equal([]);
    expect(graph.get('supernet/run.ts')).to.include('definition/definition.ts');
    expect(graph.get('search/plan.ts')).to.include('definition/definition.ts');
  });

  it('the training loop and what it shares (recipes, events, checkpoints, AdamW, state) import nothing from src/supernet, src/retrain or src/definition', () => {
    const shared = ['train/loop.ts', 'train/state.ts', 'train/recipe.ts', 'train/supernet-recipe.ts', 'train/events.ts', 'train/checkpoint.ts', 'train/adamw.ts'];
    expect([...graph.keys()].filter(under('train')).sort()).to.deep.equal([...shared, 'train/index.ts'].sort());
    expect(importsOf(under('train'), (d) => ['supernet', 'retrain', 'definition'].some((m) => under(m)(d)))).to.deep.equal([]);
  });

  it('search definitions are plain data: src/definition imports no TensorFlow.js and no model code', () => {
    const code = (d: string): boolean => d.startsWith('@tensorflow/') || ['backend', 'supernet', 'retrain', 'evaluators', 'search', 'queue'].some((m) => d.startsWith(`${m}/`));
    expect(importsOf(under('definition'), code)).to.deep.equal([]);
  });

  it('the modules of src/ form layers: no module imports one that imports it back, directly or around a loop (type-only imports included)', () => {
    // a module is a folder under src/, or a file directly in it
    const moduleOf = (f: string): string => f.split('/')[0]!.replace(/\.ts$/, '');
    const uses = new Map<string, Set<string>>();
    for (const [f, deps] of graph) {
      const from = moduleOf(f);
      const set = uses.get(from) ?? new Set<string>();
      for (const d of deps) if (d.endsWith('.ts') && moduleOf(d) !== from) set.add(moduleOf(d));
      uses.set(from, set);
    }
    // peel off the modules that use nothing left, layer by layer; what never peels is a loop
    const layers: string[][] = [];
    const left = new Set(uses.keys());
    for (;;) {
      const ready = [...left].filter((m) => [...uses.get(m)!].every((d) => !left.has(d))).sort();
      if (!ready.length) break;
      layers.push(ready);
      for (const m of ready) left.delete(m);
    }
    expect([...left].map((m) => `${m} → ${[...uses.get(m)!].filter((d) => left.has(d)).join(', ')}`)).to.deep.equal([]);
    // the stack README "Layout" draws, bottom to top
    const order = layers.flat();
    const below = (a: string, b: string): boolean => order.indexOf(a) < order.indexOf(b);
    for (const [a, b] of [['space', 'data'], ['data', 'train'], ['train', 'definition'], ['definition', 'supernet'], ['supernet', 'retrain'], ['retrain', 'evaluators'], ['evaluators', 'search'], ['search', 'ablation'], ['ablation', 'index'], ['index', 'cli']] as const) {
      expect(below(a, b), `${a} below ${b}`).to.equal(true);
    }
  });

  it('the search space and the data loaders are plain JS: no TensorFlow.js, no backend, no model code', () => {
    const tensorsLand = (d: string): boolean => d.startsWith('@tensorflow/') || ['backend', 'supernet', 'train', 'evaluators', 'search', 'queue'].some((m) => d.startsWith(`${m}/`));
    expect(importsOf(under('space'), tensorsLand)).to.deep.equal([]);
    expect(importsOf(under('data'), tensorsLand)).to.deep.equal([]);
    // src/space reaches outside itself only for file reading (io.ts) and its error type (errors.ts)
    expect(importsOf(under('space'), (d) => d.endsWith('.ts') && !under('space')(d) && d !== 'io.ts' && d !== 'errors.ts')).to.deep.equal([]);
  });

  it('has no import cycles between files at run time (type-only imports aside)', () => {
    const runtime = new Map([...imports].map(([f, deps]) => [f, deps.filter((d) => !d.typeOnly).map((d) => d.to)]));
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (f: string, path: string[]): void => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') {
        cycles.push([...path.slice(path.indexOf(f)), f].join(' → '));
        return;
      }
      state.set(f, 'open');
      for (const d of runtime.get(f) ?? []) if (runtime.has(d)) visit(d, [...path, f]);
      state.set(f, 'done');
    };
    for (const f of runtime.keys()) visit(f, []);
    expect(cycles).to.deep.equal([]);
  });
});
