// JSON schemas of the Kubernetes objects infra/k8s uses, compiled with ajv and strict about
// unknown fields (as `kubectl apply --validate=strict` is; a misspelt field would otherwise
// be dropped by the API server without a word).
//
// The schemas come from npm packages generated from the APIs' own definitions:
// kubernetes-models 4.3.1 (the Kubernetes 1.27 OpenAPI spec) and @kubernetes-models/keda
// 0.3.2 (KEDA 2.x's ScaledObject CRD). Each model hands its raw JSON schema, and those of the
// types it refers to, to @kubernetes-models/validate's register(id, schema) the first time
// it validates; the collector below takes them there.
import { createRequire } from 'node:module';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

const require = createRequire(import.meta.url);

interface SchemaRegistry {
  register(id: string, schema: object): void;
  validate(id: string, data: unknown): void;
}

type ModelClass = new (data?: object) => { validate(): void };

/** apiVersion/kind -> the module and export of its model. */
const MODELS: Readonly<Record<string, readonly [string, string]>> = {
  'v1/Namespace': ['kubernetes-models/v1/Namespace', 'Namespace'],
  'v1/ConfigMap': ['kubernetes-models/v1/ConfigMap', 'ConfigMap'],
  'v1/Secret': ['kubernetes-models/v1/Secret', 'Secret'],
  'v1/Service': ['kubernetes-models/v1/Service', 'Service'],
  'v1/PersistentVolumeClaim': ['kubernetes-models/v1/PersistentVolumeClaim', 'PersistentVolumeClaim'],
  'apps/v1/Deployment': ['kubernetes-models/apps/v1/Deployment', 'Deployment'],
  'batch/v1/Job': ['kubernetes-models/batch/v1/Job', 'Job'],
  'policy/v1/PodDisruptionBudget': ['kubernetes-models/policy/v1/PodDisruptionBudget', 'PodDisruptionBudget'],
  'keda.sh/v1alpha1/ScaledObject': ['@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject', 'ScaledObject'],
};

export const supportedKinds = Object.keys(MODELS);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The schema with `additionalProperties: false` on every object schema that lists its
 * properties and says nothing about others (Kubernetes' own open maps say
 * `additionalProperties: {...}`, and CRD fields that keep unknown fields say
 * `x-kubernetes-preserve-unknown-fields`).
 */
export function strictSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(strictSchema);
  if (!isObject(schema)) return schema;
  const result = Object.fromEntries(
    Object.entries(schema).map(([key, value]) => [
      key,
      // Under `properties` the keys are field names (a field may be called `properties`).
      key === 'properties' && isObject(value)
        ? Object.fromEntries(Object.entries(value).map(([name, field]) => [name, strictSchema(field)]))
        : strictSchema(value),
    ]),
  );
  if ('properties' in result && !('additionalProperties' in result) && result['x-kubernetes-preserve-unknown-fields'] !== true) {
    result['additionalProperties'] = false;
  }
  return result;
}

/** Every schema the models register, by id, and the root schema id of each apiVersion/kind. */
function collectSchemas(): { schemas: Map<string, object>; roots: Map<string, string> } {
  const registry = require('@kubernetes-models/validate') as SchemaRegistry;
  const { register, validate } = registry;
  const schemas = new Map<string, object>();
  const roots = new Map<string, string>();
  let last: string | undefined;
  registry.register = (id, schema) => {
    schemas.set(id, schema);
    last = id;
  };
  registry.validate = () => undefined;
  try {
    for (const [kind, [modulePath, exportName]] of Object.entries(MODELS)) {
      const Model = (require(modulePath) as Record<string, ModelClass>)[exportName];
      if (Model === undefined) throw new Error(`${modulePath} exports no ${exportName}`);
      last = undefined;
      new Model({}).validate();
      // A model registers the types it refers to first, then its own schema.
      if (last === undefined) throw new Error(`${modulePath}: its model registered no schema`);
      roots.set(kind, last);
    }
  } finally {
    registry.register = register;
    registry.validate = validate;
  }
  return { schemas, roots };
}

// Kubernetes resource quantities: a signed decimal number with an optional binary (Ki..Ei),
// decimal (n, u, m, k, M, G, T, P, E) or exponent suffix.
const QUANTITY = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[KMGTPE]i|[numkMGTPE]|[eE][+-]?(?:\d+(?:\.\d*)?|\.\d+))?$/;

export interface KubernetesValidator {
  /** Problems of one object against its kind's schema: empty when valid. */
  problems(object: unknown): string[];
}

export function kubernetesValidator(): KubernetesValidator {
  const { schemas, roots } = collectSchemas();
  // The schemas use OpenAPI's `nullable` and formats of their own: not strict about the
  // schema itself, only about the manifests.
  const ajv = new Ajv({ allErrors: true, strictSchema: false, strictTypes: false });
  ajv.addFormat('int32', { type: 'number', validate: (value: number) => Number.isInteger(value) && Math.abs(value) < 2 ** 31 });
  ajv.addFormat('int64', { type: 'number', validate: (value: number) => Number.isInteger(value) });
  ajv.addFormat('quantity', QUANTITY);
  ajv.addFormat('byte', /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/);
  ajv.addFormat('date-time', true);
  for (const [id, schema] of schemas) ajv.addSchema(strictSchema(schema) as object, id);
  const validators = new Map<string, ValidateFunction>();
  const describe = (error: ErrorObject): string => {
    const where = error.instancePath === '' ? '(top)' : error.instancePath;
    const extra =
      error.keyword === 'additionalProperties' ? ` '${String((error.params as { additionalProperty: string }).additionalProperty)}'` : '';
    return `${where}: ${error.message ?? error.keyword}${extra}`;
  };
  return {
    problems(object) {
      const kind = isObject(object) ? `${String(object['apiVersion'])}/${String(object['kind'])}` : '?';
      const root = roots.get(kind);
      if (root === undefined) return [`no schema for ${kind} (supported: ${supportedKinds.join(', ')})`];
      let validator = validators.get(root);
      if (validator === undefined) {
        validator = ajv.getSchema(root);
        if (validator === undefined) return [`schema ${root} did not compile`];
        validators.set(root, validator);
      }
      if (validator(object)) return [];
      // The nullable wrappers (oneOf [type, null]) repeat each error as a oneOf failure:
      // keep the errors that name a field.
      const errors = (validator.errors ?? []).filter(
        (error) => error.keyword !== 'oneOf' && !(error.keyword === 'type' && (error.params as { type?: string }).type === 'null'),
      );
      return [...new Set((errors.length > 0 ? errors : (validator.errors ?? [])).map(describe))];
    },
  };
}
