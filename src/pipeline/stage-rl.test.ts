import { describe, expect, it } from 'vitest';

import { ppoConfigSchema } from '../train/ppo-config.ts';
import { runConfigSchema } from './config-schema.ts';
import { ppoSettings } from './stage-rl.ts';

describe('ppoSettings', () => {
  it('maps the run config onto a valid PPO trainer config', () => {
    const config = runConfigSchema.parse({
      seed: 7,
      rl: { steps: 3, promptsPerStep: 8, minibatches: 2, klCoef: 0.2, entropyCoef: 0.01 },
    });
    const settings = ppoConfigSchema.parse(ppoSettings(config));

    expect(settings.seed).toBe(7);
    expect(settings.steps).toBe(3);
    expect(settings.batchSize).toBe(8);
    expect(settings.miniBatchSize).toBe(4);
    expect(settings.kl.coef).toBe(0.2);
    expect(settings.kl.adaptive).toBe(false);
    expect(settings.entropyCoef).toBe(0.01);
  });

  it('turns on adaptive KL control when a target is set', () => {
    const config = runConfigSchema.parse({ rl: { klTarget: 5 } });
    const settings = ppoConfigSchema.parse(ppoSettings(config));
    expect(settings.kl).toMatchObject({ adaptive: true, target: 5 });
    expect(settings.entropyCoef).toBe(0);
  });
});
