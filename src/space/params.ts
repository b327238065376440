/** A subnet's parameters as data: derived from the operator declarations, no tensors. */
import type { ArchSpec } from './spec.js';
import type { Kind } from './operators/decl.js';
import { walkNetwork } from './operators/network.js';

export interface ParamEntry {
  name: string;
  shape: number[];
  kind: Kind;
  /** index of the block it belongs to, -1 outside the blocks */
  block: number;
  /** head count of the block or class-attention layer it belongs to (0 outside them): per-head sharing rules key on it */
  heads: number;
}

/** The head count of the layer a parameter prefix names (`blocks.3`, `cls_blocks.1`), 0 for any other. */
function headsAt(spec: ArchSpec, prefix: string): number {
  const layer = prefix.startsWith('blocks.') ? spec.blocks[Number(prefix.slice(7))] : prefix.startsWith('cls_blocks.') ? spec.classBlocks?.[Number(prefix.slice(11))] : undefined;
  return layer && 'heads' in layer ? layer.heads : 0;
}

/** Every parameter and buffer `spec` uses, in forward order. */
export function paramList(spec: ArchSpec): ParamEntry[] {
  const out: ParamEntry[] = [];
  walkNetwork(spec, 'macs', {
    emit: (prefix, local, kind, d0, d1) =>
      void out.push({ name: prefix ? `${prefix}.${local}` : local, shape: d1 === undefined ? [d0] : [d0, d1], kind, block: prefix.startsWith('blocks.') ? Number(prefix.slice(7)) : -1, heads: headsAt(spec, prefix) }),
    layer: () => {},
  });
  return out;
}
