// Opening a spec's data.source: a local path (already resolved against the spec file) or an
// s3://bucket/key object. The coordinator service needs it too: a scheduled firing reads the
// data as it is at that moment.
import { localFileSource, type ByteSource } from '@lstm-runner/data';
import { openStore } from '@lstm-runner/storage';

/** The bytes of `source`; an s3:// object is read through a store on its bucket. */
export async function openDataSource(source: string, s3Endpoint?: string): Promise<ByteSource> {
  if (!source.startsWith('s3://')) return localFileSource(source, source);
  const bucketEnd = source.indexOf('/', 's3://'.length);
  if (bucketEnd < 0 || bucketEnd === source.length - 1) throw new Error(`data.source ${source}: expected s3://bucket/key`);
  const store = openStore(source.slice(0, bucketEnd), s3Endpoint === undefined ? {} : { endpoint: s3Endpoint });
  try {
    const bytes = await store.get(source.slice(bucketEnd + 1));
    return {
      name: source,
      stream: (async function* () {
        yield bytes;
      })(),
    };
  } finally {
    await store.close();
  }
}
