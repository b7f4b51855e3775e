// @lstm-runner/backends: the compute backends of this build in one registry, and the
// numerics profile a loaded backend computes.
export { createBackendRegistry, loadComputeBackend, localNumericsProfile, numericsBuildOf, numericsProfileOf } from './backend-catalog';
