// Which numerics profile a new job records. The profile names the queue its shards go to,
// so it must be one that workers serve: `auto` (or a named backend) is resolved against the
// profiles that live workers announce, fastest backend first. Only when no live worker
// serves a matching profile is it resolved on this machine, and the caller says so: the job
// waits until workers of that profile come.
import { DEFAULT_AUTO_ORDER } from '@lstm-runner/lstm-core';
import {
  formatNumericsProfile,
  formatProfileFamily,
  parseNumericsProfile,
  type NumericsProfile,
  type ProfileSpec,
} from '@lstm-runner/protocol';

export interface ResolvedProfile {
  readonly profile: NumericsProfile;
  /** One line for the user: where the profile came from. */
  readonly note: string;
}

/** The best served profile for the request, or null: the backend (any for 'auto') and threads must match. */
export function chooseServedProfile(request: ProfileSpec, served: readonly string[]): NumericsProfile | null {
  const rank = (profile: NumericsProfile): number => {
    const index = DEFAULT_AUTO_ORDER.indexOf(profile.backend);
    return index < 0 ? DEFAULT_AUTO_ORDER.length : index;
  };
  const candidates = served
    .map((text) => parseNumericsProfile(text))
    .filter((profile) => profile.threads === request.threads && (request.backend === 'auto' || profile.backend === request.backend))
    .sort((a, b) => rank(a) - rank(b) || formatNumericsProfile(b).localeCompare(formatNumericsProfile(a)));
  return candidates[0] ?? null;
}

/** The profile for a new job: a served one when there is one, else the one this machine would compute. */
export async function resolveJobProfile(
  request: ProfileSpec,
  served: readonly string[],
  resolveHere: (request: ProfileSpec) => Promise<NumericsProfile>,
): Promise<ResolvedProfile> {
  const chosen = chooseServedProfile(request, served);
  if (chosen !== null) return { profile: chosen, note: `profile ${formatNumericsProfile(chosen)} (served by live workers)` };
  const profile = await resolveHere(request);
  const servedText = served.length === 0 ? 'no worker is live' : `live workers serve ${served.join(', ')}`;
  return {
    profile,
    note: `profile ${formatNumericsProfile(profile)} (resolved on this machine: ${servedText}; the job waits for workers of ${formatProfileFamily(profile)})`,
  };
}
