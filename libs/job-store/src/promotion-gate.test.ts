import { describe, expect, it } from 'vitest';
import type { PromotionSpec } from '@lstm-runner/protocol';
import { decidePromotion } from './promotion-gate';

const auto: PromotionSpec = { metric: 'mae', maxRegression: 0, require: 'auto' };
const at = (version: number, value: number) => ({ version, figure: { value } });

describe('the promotion gate', () => {
  it('promotes the first version under auto, not under always', () => {
    expect(decidePromotion({ promotion: auto, candidate: { value: 2 }, baseline: null })).toEqual({
      promoted: true,
      reason: 'no production version yet: promoted (mae 2)',
    });
    expect(decidePromotion({ promotion: { ...auto, require: 'always' }, candidate: { value: 2 }, baseline: null }).promoted).toBe(false);
  });

  it('compares with production, allowing maxRegression, and names both figures', () => {
    expect(decidePromotion({ promotion: auto, candidate: { value: 1.5 }, baseline: at(2, 1.5) })).toEqual({
      promoted: true,
      reason: "mae 1.5 is not worse than production v2's 1.5",
    });
    expect(decidePromotion({ promotion: auto, candidate: { value: 48.25 }, baseline: at(2, 1.5) })).toEqual({
      promoted: false,
      reason: "mae 48.25 is worse than production v2's 1.5",
    });
    const loose = { ...auto, maxRegression: 0.1 };
    expect(decidePromotion({ promotion: loose, candidate: { value: 1.6 }, baseline: at(2, 1.5) })).toEqual({
      promoted: true,
      reason: "mae 1.6 is not worse than production v2's 1.5 (maxRegression 0.1: at most 1.65)",
    });
    expect(decidePromotion({ promotion: loose, candidate: { value: 1.7 }, baseline: at(2, 1.5) }).promoted).toBe(false);
  });

  it('fails a version without a figure, or against a production that could not be evaluated, unless require is never', () => {
    expect(decidePromotion({ promotion: auto, candidate: { problem: 'no column "t"' }, baseline: at(1, 1) })).toEqual({
      promoted: false,
      reason: 'could not evaluate the new version: no column "t"',
    });
    // The first version is promoted even so: there is nothing it could be worse than.
    expect(decidePromotion({ promotion: auto, candidate: { problem: 'no window' }, baseline: null })).toEqual({
      promoted: true,
      reason: 'no production version yet: promoted (not evaluated: no window)',
    });
    expect(decidePromotion({ promotion: auto, candidate: { value: 1 }, baseline: { version: 4, figure: { problem: 'gone' } } })).toEqual({
      promoted: false,
      reason: 'could not evaluate production v4 on the same data: gone',
    });
    expect(decidePromotion({ promotion: { ...auto, require: 'never' }, candidate: { value: 99 }, baseline: at(1, 1) }).promoted).toBe(true);
    expect(decidePromotion({ promotion: auto, candidate: { value: Number.NaN }, baseline: at(1, 1) }).promoted).toBe(false);
  });
});
