// The numerics profile: what makes results bit-identical. Two runs agree bit for bit only
// when backend, thread count, (for native code) instruction set and the build of the code
// that computes are the same, so a job records its profile and only workers of that profile
// take its shards (one queue each). The build word keeps workers of two releases (a rolling
// upgrade) from mixing their bits in one step.
import { integerIn, mapping, matching } from '@lstm-runner/lstm-core';
import { InvalidIdentifierError } from './errors/invalid-identifier-error';

export interface NumericsProfile {
  /** A registered backend name: 'wasm', 'cpu', 'tensorflow', 'tensorflow-gpu', 'native', ... */
  readonly backend: string;
  /** Threads the backend computes one shard with. */
  readonly threads: number;
  /** Instruction set of native code (e.g. 'avx2', 'avx512', 'neon'); absent for the others. */
  readonly isa?: string;
  /**
   * The build identity: 'n' and 8 hex digits of a hash of lstm-core's numerics version and
   * the backend library's version. Absent in records of releases before it existed.
   */
  readonly build?: string;
}

export const MAX_PROFILE_THREADS = 1024;

// Dash-separated lowercase words; a word may not look like the thread field ('t4'), so that
// the string form parses back unambiguously.
const BACKEND = /^[a-z][a-z0-9]*(?:-[a-z][a-z0-9]*)*$/;
const THREADS_FIELD = /^t(\d+)$/;
const ISA = /^[a-z0-9]+(?:[._][a-z0-9]+)*$/;
const BUILD = /^n[0-9a-f]{8}$/;

/** Returns profile when it is well formed, or throws InvalidIdentifierError. */
export function validateNumericsProfile(profile: NumericsProfile): NumericsProfile {
  const { backend, threads, isa } = profile;
  if (typeof backend !== 'string' || !BACKEND.test(backend) || backend.split('-').some((word) => THREADS_FIELD.test(word))) {
    throw new InvalidIdentifierError('numerics profile backend', backend, "use lowercase words joined by '-' (not 't<digits>')");
  }
  if (typeof threads !== 'number' || !Number.isInteger(threads) || threads < 1 || threads > MAX_PROFILE_THREADS) {
    throw new InvalidIdentifierError('numerics profile threads', threads, `must be an integer from 1 to ${MAX_PROFILE_THREADS}`);
  }
  if (isa !== undefined && (typeof isa !== 'string' || !ISA.test(isa) || BUILD.test(isa))) {
    throw new InvalidIdentifierError(
      'numerics profile isa',
      isa,
      "use lowercase letters and digits, joined by '.' or '_' (not 'n<8 hex digits>')",
    );
  }
  if (profile.build !== undefined && (typeof profile.build !== 'string' || !BUILD.test(profile.build))) {
    throw new InvalidIdentifierError('numerics profile build', profile.build, "expected 'n' and 8 hex digits");
  }
  return profile;
}

/** A numerics profile in a stored record: the same rules as validateNumericsProfile. */
export const numericsProfileSchema = mapping({
  backend: matching(BACKEND, "lowercase words joined by '-'").refine(
    (backend) => !backend.split('-').some((word) => THREADS_FIELD.test(word)),
    {
      error: "must not have a word of the form 't<digits>'",
    },
  ),
  threads: integerIn(1, MAX_PROFILE_THREADS),
  isa: matching(ISA, "lowercase letters and digits joined by '.' or '_'").exactOptional(),
  build: matching(BUILD, "'n' and 8 hex digits").exactOptional(),
});

/** The profile without its build: what a worker deployment serves ('wasm-t1', 'native-t2-avx2'). */
export function formatProfileFamily(profile: NumericsProfile): string {
  const { backend, threads, isa } = validateNumericsProfile(profile);
  return isa === undefined ? `${backend}-t${threads}` : `${backend}-t${threads}-${isa}`;
}

/** The stable string form: 'wasm-t1-n1a2b3c4d', 'tensorflow-gpu-t1', 'native-t2-avx2-n0f0f0f0f'. */
export function formatNumericsProfile(profile: NumericsProfile): string {
  const family = formatProfileFamily(profile);
  return profile.build === undefined ? family : `${family}-${profile.build}`;
}

/** The inverse of formatNumericsProfile; throws InvalidIdentifierError for anything else. */
export function parseNumericsProfile(text: string): NumericsProfile {
  const words = text.split('-');
  const threadsAt = words.findIndex((word) => THREADS_FIELD.test(word));
  const rest = words.slice(threadsAt + 1);
  const build = rest.length > 0 && BUILD.test(rest[rest.length - 1]!) ? rest.pop() : undefined;
  if (threadsAt < 1 || rest.length > 1) {
    throw new InvalidIdentifierError('numerics profile', text, "expected '<backend>-t<threads>[-<isa>][-<build>]'");
  }
  const backend = words.slice(0, threadsAt).join('-');
  const threads = Number(words[threadsAt]!.slice(1));
  const profile: NumericsProfile = {
    backend,
    threads,
    ...(rest[0] === undefined ? {} : { isa: rest[0] }),
    ...(build === undefined ? {} : { build }),
  };
  validateNumericsProfile(profile);
  // Reject non-canonical spellings ('t01') so that one profile has one string.
  if (formatNumericsProfile(profile) !== text) {
    throw new InvalidIdentifierError('numerics profile', text, `not in canonical form (${formatNumericsProfile(profile)})`);
  }
  return profile;
}
