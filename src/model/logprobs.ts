/**
 * Differentiable per-token quantities from logits, as trainers need them: log p of given
 * target tokens, the entropy of each position's distribution, and the causal LM loss.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * log softmax(logits / temperature) at each target: logits [B, T, V], targets int32 [B, T]
 * -> [B, T]. Differentiable with respect to the logits.
 */
export function tokenLogprobs(logits: tf.Tensor3D, targets: tf.Tensor2D,
  options: { temperature?: number } = {}): tf.Tensor2D {
  return tf.tidy(() => {
    const vocab = logits.shape[2];
    const scaled = scaleByTemperature(logits, options.temperature);
    const logp = tf.logSoftmax(scaled);
    // A one-hot product rather than a batched gather: both differentiate, this one in a single
    // fused multiply-and-sum on wasm.
    const picked = tf.sum(tf.mul(logp, tf.oneHot(tf.cast(targets, 'int32'), vocab)), -1);
    return picked as tf.Tensor2D;
  });
}

/** Entropy in nats of softmax(logits / temperature) at every position: [B, T, V] -> [B, T]. */
export function entropyFromLogits(logits: tf.Tensor3D,
  options: { temperature?: number } = {}): tf.Tensor2D {
  return tf.tidy(() => {
    const logp = tf.logSoftmax(scaleByTemperature(logits, options.temperature));
    return tf.neg(tf.sum(tf.mul(tf.exp(logp), logp), -1)) as tf.Tensor2D;
  });
}

/**
 * log p(tokens[t + 1] | tokens[..t]) for t in 0..T-2: logits [B, T, V] from a forward pass over
 * tokens [B, T] -> [B, T - 1].
 */
export function nextTokenLogprobs(logits: tf.Tensor3D, tokens: tf.Tensor2D,
  options: { temperature?: number } = {}): tf.Tensor2D {
  return tf.tidy(() => {
    const [batch, seqLen, vocab] = logits.shape;
    const head = tf.slice(logits, [0, 0, 0], [batch, seqLen - 1, vocab]) as tf.Tensor3D;
    const targets = tf.slice(tokens, [0, 1], [batch, seqLen - 1]) as tf.Tensor2D;
    return tokenLogprobs(head, targets, options);
  });
}

/**
 * Mean next-token negative log-likelihood over positions whose target is a real token and
 * follows a real token (mask [B, T], 1 = real). A scalar, differentiable.
 */
export function causalLmLoss(logits: tf.Tensor3D, tokens: tf.Tensor2D,
  mask?: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const [batch, seqLen] = tokens.shape;
    const logp = nextTokenLogprobs(logits, tokens);
    if (!mask) return tf.neg(tf.mean(logp)) as tf.Scalar;
    const m = tf.cast(mask, 'float32');
    const valid = tf.mul(tf.slice(m, [0, 0], [batch, seqLen - 1]), tf.slice(m, [0, 1], [batch, seqLen - 1]));
    const total = tf.maximum(tf.sum(valid), 1);
    return tf.neg(tf.div(tf.sum(tf.mul(logp, valid)), total)) as tf.Scalar;
  });
}

function scaleByTemperature(logits: tf.Tensor3D, temperature: number | undefined): tf.Tensor3D {
  if (temperature === undefined || temperature === 1) return logits;
  if (!(temperature > 0)) throw new RangeError(`temperature must be > 0, got ${temperature}`);
  return tf.div(logits, temperature);
}
