/**
 * tfjs ops with faster gradients on the wasm backend.
 *
 * matMul's built-in gradient multiplies with transpose flags (dX = dY·Wᵀ,
 * dW = Xᵀ·dY), and wasm's BatchMatMul is several times slower with a
 * transpose flag than on plain operands (measured: ~6x on [4096,210]x[210,128]).
 * Transposing explicitly first, then multiplying, is cheaper: the transposes
 * are memory copies of operands we already have.
 */
import * as tf from '@tensorflow/tfjs';

const matMulFast = tf.customGrad(((...args: unknown[]) => {
  const [a, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => [
      tf.matMul(dy as tf.Tensor2D, tf.transpose(saved[1] as tf.Tensor2D)),
      tf.matMul(tf.transpose(saved[0] as tf.Tensor2D), dy as tf.Tensor2D),
    ],
  };
}) as Parameters<typeof tf.customGrad>[0]);

/** a [n, p] · b [p, m], with the fast gradient described above. */
export function matMul(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return matMulFast(a, b) as tf.Tensor2D;
}
