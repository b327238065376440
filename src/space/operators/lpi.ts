/**
 * XCiT's local patch interaction (timm `xcit.py` `LPI`; UFO-ViT uses it), a per-block on/off
 * choice: LayerNorm → depthwise 3×3 → GELU → BatchNorm → depthwise 3×3 on the patch-token grid
 * (the class token passes by), with its own residual between the mixer and the MLP. Every weight is
 * per channel, so the supernet slices it to the subnet's embed width like the block's norms; the
 * BatchNorm's running mean and variance are sliced alike (one set per layer for every width: why
 * a subnet's statistics are recalibrated before it is scored).
 */
import { BETA, BIAS, GAMMA, RUNNING_MEAN, RUNNING_VAR, WEIGHT, type Blk, type Emit, type Net } from './decl.js';

/** MACs per patch token and channel: two depthwise 3×3 convolutions. */
export const LPI_MACS_PER_TOKEN = 2 * 9;

export const lpi = {
  params(net: Net, k: Blk, emit: Emit): void {
    emit(k.prefix, 'lpi.norm.gamma', GAMMA, net.E);
    emit(k.prefix, 'lpi.norm.beta', BETA, net.E);
    emit(k.prefix, 'lpi.conv1.w', WEIGHT, 9, net.E);
    emit(k.prefix, 'lpi.conv1.b', BIAS, net.E);
    emit(k.prefix, 'lpi.bn.gamma', GAMMA, net.E);
    emit(k.prefix, 'lpi.bn.beta', BETA, net.E);
    emit(k.prefix, 'lpi.bn.mean', RUNNING_MEAN, net.E);
    emit(k.prefix, 'lpi.bn.var', RUNNING_VAR, net.E);
    emit(k.prefix, 'lpi.conv2.w', WEIGHT, 9, net.E);
    emit(k.prefix, 'lpi.conv2.b', BIAS, net.E);
  },
  /** on the P patch tokens only, in both conventions (the class token never enters it) */
  macs: (net: Net): number => LPI_MACS_PER_TOKEN * net.P * net.E,
  /** floats per image kept for the backward: the norm's input, each conv's input, GELU's, BatchNorm's input and output */
  acts: (net: Net): number => 6 * net.P * net.E,
};
