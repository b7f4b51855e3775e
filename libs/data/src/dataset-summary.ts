// The summary `lstm prepare` prints (and `--json` emits): rows and windows per split for one
// set of window settings, plus what the model needs to know about the encoding.
import type { WindowSettings } from './data-spec';
import type { DatasetManifest } from './manifest';
import { WindowLayout, windowCount } from './windows';

export type ColumnStatisticsSummary = { readonly mean: number; readonly std: number } | { readonly min: number; readonly max: number };

export interface SeriesSummary {
  readonly name: string | null;
  readonly rows: { readonly train: number; readonly validation: number };
  readonly windows: { readonly train: number; readonly validation: number };
}

export interface DatasetSummary {
  readonly datasetId: string;
  readonly kind: 'text' | 'csv';
  readonly rows: { readonly train: number; readonly validation: number };
  readonly windows: { readonly train: number; readonly validation: number; readonly total: number };
  /** Text: the model's number of classes (characters + the unknown id). */
  readonly vocabularySize?: number;
  /** CSV: the input and output columns. */
  readonly columns?: { readonly features: readonly string[]; readonly targets: readonly string[] };
  /** CSV: per stored column, the normalization fitted on the training rows. */
  readonly statistics?: Readonly<Record<string, ColumnStatisticsSummary>>;
  /** CSV with seriesBy: each series, in file order. */
  readonly series?: readonly SeriesSummary[];
}

/** Throws a DataError when the window settings leave no training window. */
export function summarizeDataset(manifest: DatasetManifest, window: WindowSettings): DatasetSummary {
  const layout = new WindowLayout(manifest.series, window, manifest.source.name);
  const common = {
    datasetId: manifest.datasetId,
    kind: manifest.kind,
    rows: { train: manifest.rows.train, validation: manifest.rows.validation },
    windows: { train: layout.trainWindows, validation: layout.validationWindows, total: layout.totalWindows },
  };
  if (manifest.kind === 'text') return { ...common, vocabularySize: manifest.text.vocabularySize };
  const { columns, features, targets, seriesBy, normalization } = manifest.csv;
  const statistics: Record<string, ColumnStatisticsSummary> = {};
  columns.forEach((name, c) => {
    statistics[name] =
      normalization.method === 'zscore'
        ? { mean: normalization.mean[c]!, std: normalization.std[c]! }
        : { min: normalization.min[c]!, max: normalization.max[c]! };
  });
  const summary: DatasetSummary = { ...common, columns: { features, targets }, statistics };
  if (seriesBy === null) return summary;
  return {
    ...summary,
    series: manifest.series.map((s) => {
      const train = windowCount(s.trainRows, window);
      return {
        name: s.name,
        rows: { train: s.trainRows, validation: s.rows - s.trainRows },
        windows: { train, validation: windowCount(s.rows, window) - train },
      };
    }),
  };
}
