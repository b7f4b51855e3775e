// The promotion gate: whether a new version may replace production, from both models'
// figures on the same evaluation data (lower is better for every metric) and the spec's
// promotion section. A pure function: evaluation happens elsewhere (@lstm-runner/models).
import type { PromotionSpec } from '@lstm-runner/protocol';

/** A figure, or why there is none. */
export type Figure = { readonly value: number } | { readonly problem: string };

export interface GateInput {
  readonly promotion: PromotionSpec;
  /** The new version's figure. */
  readonly candidate: Figure;
  /** Production's version and figure on the same data; null when the model has no production version. */
  readonly baseline: { readonly version: number; readonly figure: Figure } | null;
}

export interface GateDecision {
  readonly promoted: boolean;
  readonly reason: string;
}

/** Up to 6 significant digits: enough to see both figures, short enough to read. */
export const formatFigure = (value: number): string => String(Number(value.toPrecision(6)));

/**
 * `never` promotes every version. With no production version, `auto` promotes (the first
 * version of a name, even one that could not be evaluated) and `always` does not (promote it
 * by hand). With one, a version without a figure fails, and the new figure must be at most
 * production's times (1 + maxRegression); production that could not be evaluated on the data
 * fails the gate.
 */
export function decidePromotion({ promotion, candidate, baseline }: GateInput): GateDecision {
  const { metric, maxRegression, require } = promotion;
  if (require === 'never') return { promoted: true, reason: 'promotion.require is never: promoted without a gate' };
  const figure = 'problem' in candidate ? `not evaluated: ${candidate.problem}` : `${metric} ${formatFigure(candidate.value)}`;
  if (baseline === null) {
    return require === 'auto'
      ? { promoted: true, reason: `no production version yet: promoted (${figure})` }
      : { promoted: false, reason: `no production version to compare with and promotion.require is always (${figure})` };
  }
  if ('problem' in candidate) return { promoted: false, reason: `could not evaluate the new version: ${candidate.problem}` };
  const value = formatFigure(candidate.value);
  const production = `production v${baseline.version}`;
  if ('problem' in baseline.figure) {
    return { promoted: false, reason: `could not evaluate ${production} on the same data: ${baseline.figure.problem}` };
  }
  const limit = baseline.figure.value * (1 + maxRegression);
  const against = `${production}'s ${formatFigure(baseline.figure.value)}`;
  const allowance = maxRegression === 0 ? '' : ` (maxRegression ${maxRegression}: at most ${formatFigure(limit)})`;
  if (Number.isFinite(candidate.value) && candidate.value <= limit) {
    return { promoted: true, reason: `${metric} ${value} is not worse than ${against}${allowance}` };
  }
  return { promoted: false, reason: `${metric} ${value} is worse than ${against}${allowance}` };
}
