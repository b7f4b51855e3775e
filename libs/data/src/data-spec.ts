// The `data` section of a job spec, as libs/data consumes it. Protocol parses and validates
// the spec text and fills the defaults; these types are the validated result.

export type DataFormat = 'text' | 'csv';
export type NormalizationMethod = 'zscore' | 'minmax';

/** Window i covers rows [i*step, i*step + lookBack); its target is row i*step + lookBack + horizon - 1. */
export interface WindowSettings {
  readonly lookBack: number;
  readonly step: number;
  readonly horizon: number;
}

export interface TextSettings {
  readonly lowercase: boolean;
}

export interface CsvSettings {
  readonly features: readonly string[];
  readonly targets: readonly string[];
  /** A column whose change of value starts a new series. */
  readonly seriesBy?: string;
  readonly normalization: NormalizationMethod;
}

interface DataSpecBase {
  /** A path (resolved by the spec loader) or an s3://bucket/key URL. */
  readonly source: string;
  readonly window: WindowSettings;
  /** The fraction of each series' rows, taken from its end, that are validation rows; in [0, 1). */
  readonly validation: number;
}

export interface TextDataSpec extends DataSpecBase {
  readonly format: 'text';
  readonly text: TextSettings;
}

export interface CsvDataSpec extends DataSpecBase {
  readonly format: 'csv';
  readonly csv: CsvSettings;
}

export type DataSpec = TextDataSpec | CsvDataSpec;

/** What decides a packed dataset's bytes (and so its id): everything but the source location and the windows. */
export type EncodingSettings =
  | { readonly format: 'text'; readonly validation: number; readonly text: TextSettings }
  | { readonly format: 'csv'; readonly validation: number; readonly csv: CsvSettings };

export function encodingSettingsOf(data: DataSpec): EncodingSettings {
  return data.format === 'text'
    ? { format: 'text', validation: data.validation, text: { lowercase: data.text.lowercase } }
    : {
        format: 'csv',
        validation: data.validation,
        csv: {
          features: [...data.csv.features],
          targets: [...data.csv.targets],
          ...(data.csv.seriesBy === undefined ? {} : { seriesBy: data.csv.seriesBy }),
          normalization: data.csv.normalization,
        },
      };
}
