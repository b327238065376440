/**
 * The supernet's training recipe (a definition's `supernet` section), plain data. It lives beside
 * the shared recipe, below src/supernet, so that search definitions (src/definition) can state it
 * without importing the supernet.
 */
import { DEFAULT_TRAINING, type LrRestart, type TrainingRecipe } from './recipe.js';

/** `left`: prefix slices; `two-sided`: ViTAS/BCNet — left and right slices, logits summed. */
export type Slicing = 'left' | 'two-sided';

export interface SupernetRecipe extends TrainingRecipe {
  slicing: Slicing;
  /** largest + smallest (+ the corners, with `corners`) + `randomSubnets` random subnets every step */
  sandwich: boolean;
  /** random subnets trained per step (1); BigNAS's sandwich uses 2, so the middle of the space is trained as often as its ends */
  randomSubnets: number;
  /** with `sandwich`: also the wide-and-shallow and the narrow-and-deep corner every step (depthCorners) */
  corners: boolean;
  /** with `sandwich`: in-place distillation — the largest subnet learns from the labels, the others from its soft predictions */
  distill: boolean;
  /** `uniform`: every block choice equally likely; `identity-search`: p_id tuned to the budget window */
  sampling: 'uniform' | 'identity-search';
  /** ViTAS's private class token per patch size and Q/K per head count (true); false shares one of each */
  privateTokens: boolean;
  privateAttention: boolean;
  /** Q and K per SReT group count (not ViTAS; false shares one pair between grouped and global attention) */
  privateGroups: boolean;
  /** a warm restart written by a resumed stage: from global step `step` a new cosine from `lr` down to `minLr` */
  restart?: LrRestart;
}

export const DEFAULT_RECIPE: SupernetRecipe = {
  ...DEFAULT_TRAINING,
  slicing: 'left',
  sandwich: false,
  randomSubnets: 1,
  corners: false,
  distill: false,
  sampling: 'identity-search',
  privateTokens: true,
  privateAttention: true,
  privateGroups: false,
};
