/** Evaluation of a standalone model: top-1, top-5, per-class accuracy and the confusion matrix. */
import * as tf from '@tensorflow/tfjs-core';
import { orderedBatches } from '../data/batches.js';
import type { Dataset } from '../data/dataset.js';
import { markdownTable } from '../report/markdown.js';
import { evaluationBatch } from '../supernet/memory.js';
import type { StandaloneModel } from './model.js';

export interface Evaluation {
  split: string;
  count: number;
  top1: number;
  top5: number;
  perClass: number[];
  /** confusion[true][predicted] */
  confusion: number[][];
}

/** `batch`: 250, or fewer where a model near the wasm heap's limit needs it (see evaluationBatch). */
export function evaluateModel(model: StandaloneModel, ds: Dataset, split = ds.name, batch?: number): Evaluation {
  const k = ds.classes;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let top5 = 0;
  const [h, w, c] = ds.shape;
  const weightBytes = 4 * [...model.weights.values()].reduce((a, v) => a + v.size, 0);
  for (const b of orderedBatches(ds, batch ?? evaluationBatch(model.spec, weightBytes))) {
    const logits = tf.tidy(() => model.forward(tf.tensor4d(b.x, [b.size, h, w, c])).dataSync() as Float32Array);
    for (let i = 0; i < b.size; i++) {
      const row = logits.subarray(i * k, (i + 1) * k);
      let arg = 0;
      for (let j = 1; j < k; j++) if (row[j]! > row[arg]!) arg = j;
      const truth = b.y[i]!;
      confusion[truth]![arg]!++;
      const better = row.reduce((a, v) => a + (v > row[truth]! ? 1 : 0), 0);
      if (better < 5) top5++;
    }
  }
  const perClass = confusion.map((r, i) => r[i]! / Math.max(1, r.reduce((a, v) => a + v, 0)));
  const correct = confusion.reduce((a, r, i) => a + r[i]!, 0);
  return { split, count: ds.count, top1: correct / ds.count, top5: top5 / ds.count, perClass, confusion };
}

export function evaluationMarkdown(e: Evaluation, classNames?: string[]): string {
  const names = classNames ?? e.perClass.map((_, i) => String(i));
  const pct = (v: number): string => `${(100 * v).toFixed(2)} %`;
  return [
    `# Evaluation (${e.split}, ${e.count} images)`,
    '',
    `top-1 **${pct(e.top1)}**, top-5 ${pct(e.top5)}`,
    '',
    '## Per class',
    '',
    markdownTable(['class', 'accuracy'], e.perClass.map((a, i) => [names[i]!, pct(a)]), ['left', 'right']),
    '',
    '## Confusion matrix (rows: true class, columns: predicted)',
    '',
    markdownTable(['true \\ predicted', ...names.map((_, i) => String(i))], e.confusion.map((r, i) => [`${i} ${names[i]}`, ...r.map(String)]), ['left', ...names.map(() => 'right' as const)]),
    '',
  ].join('\n');
}
