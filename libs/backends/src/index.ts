// @lstm-runner/backends: the compute backends of this build in one registry.
export { createBackendRegistry, loadComputeBackend } from './backend-catalog';
