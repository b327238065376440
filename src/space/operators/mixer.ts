/**
 * `mixer` (MLP-Mixer's token mixing, as Vision X-formers uses it): per channel, an MLP across the
 * T tokens, T → tokenMlp → T, GELU between. Its shape depends on the token count: private per
 * patch size in the supernet (sliced on the hidden width).
 */
import { PATCH_BIAS, TOKEN_BIAS, TOKEN_COLS, TOKEN_ROWS, type MixerDecl } from './decl.js';

export const mixer: MixerDecl = {
  projections: false,
  params(net, k, emit) {
    const t = k.b.tokenMlp!;
    emit(k.prefix, 'mixer.fc1.w', TOKEN_ROWS, net.T, t);
    emit(k.prefix, 'mixer.fc1.b', PATCH_BIAS, t);
    emit(k.prefix, 'mixer.fc2.w', TOKEN_COLS, t, net.T);
    emit(k.prefix, 'mixer.fc2.b', TOKEN_BIAS, net.T);
  },
  macs: (net, k, c) => 2 * c.n * k.b.tokenMlp! * net.E,
  acts: (net, k) => 2 * net.E * k.b.tokenMlp! + 2 * net.T * net.E,
};
