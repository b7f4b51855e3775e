import { describe, expect, it } from 'vitest';
import { InvalidIdentifierError } from './errors/invalid-identifier-error';
import { formatNumericsProfile, formatProfileFamily, parseNumericsProfile, type NumericsProfile } from './numerics-profile';
import { CONTROL_QUEUE_NAME, gradientQueueName, validateQueuePrefix } from './queues';

describe('numerics profiles', () => {
  it.each([
    [{ backend: 'wasm', threads: 1 }, 'wasm-t1'],
    [{ backend: 'tensorflow-gpu', threads: 1 }, 'tensorflow-gpu-t1'],
    [{ backend: 'native', threads: 2, isa: 'avx2' }, 'native-t2-avx2'],
    [{ backend: 'native', threads: 16, isa: 'x86_64.avx512' }, 'native-t16-x86_64.avx512'],
    [{ backend: 'wasm', threads: 1, build: 'n0123abcd' }, 'wasm-t1-n0123abcd'],
    [{ backend: 'native', threads: 2, isa: 'avx512_core', build: 'nffffffff' }, 'native-t2-avx512_core-nffffffff'],
  ] as [NumericsProfile, string][])('writes %j as %s and reads it back', (profile, text) => {
    expect(formatNumericsProfile(profile)).toBe(text);
    expect(parseNumericsProfile(text)).toEqual(profile);
  });

  it.each([
    { backend: 'WASM', threads: 1 },
    { backend: 'my-t2', threads: 1 },
    { backend: 'wasm', threads: 0 },
    { backend: 'wasm', threads: 1.5 },
    { backend: 'wasm', threads: 1, isa: 'avx-2' },
    { backend: 'a:b', threads: 1 },
    { backend: 'wasm', threads: 1, build: 'n123' },
    { backend: 'native', threads: 1, isa: 'n0123abcd' },
  ])('refuses %j', (profile) => {
    expect(() => formatNumericsProfile(profile)).toThrow(InvalidIdentifierError);
  });

  it('names the family of a profile without its build', () => {
    expect(formatProfileFamily({ backend: 'native', threads: 2, isa: 'avx2', build: 'n0123abcd' })).toBe('native-t2-avx2');
  });

  it.each(['wasm', 't1', 'wasm-t01', 'wasm-t1-avx2-extra', 'wasm-tx', '', 'wasm-t1-n0123abcd-avx2'])('refuses the string %j', (text) => {
    expect(() => parseNumericsProfile(text)).toThrow(InvalidIdentifierError);
  });
});

describe('queue names', () => {
  it('gives every profile its own BullMQ-safe gradient queue', () => {
    expect(gradientQueueName({ backend: 'wasm', threads: 1 })).toBe('lstm-gradients-wasm-t1');
    expect(gradientQueueName({ backend: 'native', threads: 2, isa: 'avx2' })).toBe('lstm-gradients-native-t2-avx2');
    expect(gradientQueueName({ backend: 'wasm', threads: 2 })).not.toBe(gradientQueueName({ backend: 'wasm', threads: 1 }));
    for (const name of [gradientQueueName({ backend: 'tensorflow-gpu', threads: 1 }), CONTROL_QUEUE_NAME]) expect(name).not.toContain(':');
  });

  it('validates BullMQ prefixes', () => {
    expect(validateQueuePrefix('test-1a2b')).toBe('test-1a2b');
    expect(validateQueuePrefix('{lstm}')).toBe('{lstm}');
    for (const prefix of ['', 'a:b', 'a b', 'x'.repeat(65)]) expect(() => validateQueuePrefix(prefix)).toThrow(InvalidIdentifierError);
  });
});
