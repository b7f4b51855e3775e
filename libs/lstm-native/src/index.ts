// @lstm-runner/lstm-native: the 'native' compute backend, an N-API addon over oneDNN.
export { nativeAvailability, type NativeAvailability } from './availability';
export { detectNativeIsa, NATIVE_ISAS, type NativeIsa } from './environment';
export { NativeIsaMismatchError } from './errors/native-isa-mismatch-error';
export { NativeOptionsError } from './errors/native-options-error';
export {
  createNativeBackend,
  NATIVE_NUMERICS_VERSION,
  nativeBuildInfo,
  NativeComputeBackend,
  registerNativeBackend,
  type NativeBuildInfo,
} from './native-backend';
export { MAX_NATIVE_THREADS, NATIVE_BACKEND_DEFAULTS, type NativeBackendOptions } from './options';
