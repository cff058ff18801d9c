/** Small model and world configs that keep ml unit tests fast. */
import { DEFAULT_FEATURE_SPEC } from '../../../src/ml/feature-spec.ts';
import type { CtrModelConfig } from '../../../src/ml/ctr-model.ts';
import type { WorldConfig } from '../../../src/ml/generator.ts';

export const TINY_MODEL: CtrModelConfig = {
  spec: { ...DEFAULT_FEATURE_SPEC, hashRows: 1 << 10, embeddingDim: 16 },
  fmDim: 4,
  hidden: [16, 8],
  towers: {
    text: { vocabRows: 1 << 10, tokens: 8, dim: 8, lstm: 8, attention: 4, out: 8 },
    image: { size: 8, channels: [4], out: 8 },
  },
};

export const TINY_WORLD: Partial<WorldConfig> = {
  seed: 7,
  items: 60,
  contexts: 12,
  imageSize: 8,
  titleTokens: 4,
  descriptionTokens: 4,
};
