// The tfjs backend's layers against the reference backend in float32 (itself checked against
// finite differences and tfjs autodiff), on 'wasm' and 'cpu'.

import { describeAgainstReference } from '../../../../test-support/backend-conformance';
import { createTfjsBackend, type TfjsBackendName } from './tfjs-backend';

for (const name of ['wasm', 'cpu'] as TfjsBackendName[]) describeAgainstReference(`tfjs ${name} backend`, () => createTfjsBackend(name));
