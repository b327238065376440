/** A subnet's parameters as data: derived from the operator declarations, no tensors. */
import type { ArchSpec } from './spec.js';
import type { Kind } from './operators/decl.js';
import { walkNetwork } from './operators/network.js';

export interface ParamEntry {
  name: string;
  shape: number[];
  kind: Kind;
  /** index of the block it belongs to (for its head count), -1 outside the blocks */
  block: number;
}

/** Every parameter and buffer `spec` uses, in forward order. */
export function paramList(spec: ArchSpec): ParamEntry[] {
  const out: ParamEntry[] = [];
  walkNetwork(spec, 'macs', {
    emit: (prefix, local, kind, d0, d1) =>
      void out.push({ name: prefix ? `${prefix}.${local}` : local, shape: d1 === undefined ? [d0] : [d0, d1], kind, block: prefix.startsWith('blocks.') ? Number(prefix.slice(7)) : -1 }),
    layer: () => {},
  });
  return out;
}
