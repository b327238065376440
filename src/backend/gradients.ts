/**
 * Gradient registrations. tfjs-core's Node (CommonJS) bundle ships no gradient functions; the
 * union package @tensorflow/tfjs registers them on that same tfjs-core instance when loaded.
 */
import '@tensorflow/tfjs';
