import { describe, expect, it } from 'vitest';
import type { DatasetManifest } from '@lstm-runner/data';
import { parseJobSpec } from '@lstm-runner/protocol';
import { modelSpecOf } from './job-submission';

// modelSpecOf reads only the kind and the sizes of a manifest.
const textManifest = { kind: 'text', text: { vocabularySize: 30 } } as unknown as DatasetManifest;
const csvManifest = { kind: 'csv', csv: { features: ['a', 'b'], targets: ['a'] } } as unknown as DatasetManifest;
const textSpec = (model: string) =>
  parseJobSpec(`name: t\ndata: { source: a.txt, format: text, window: { lookBack: 10 } }\nmodel: ${model}\n`, 't.yaml');
const csvSpec = (model: string) =>
  parseJobSpec(
    `name: c\ndata: { source: a.csv, format: csv, csv: { features: [a, b], targets: [a] }, window: { lookBack: 10 } }\nmodel: ${model}\n`,
    'c.yaml',
  );

describe('modelSpecOf', () => {
  it("records today's defaults explicitly: text learns from every character from PyTorch's init, time series keep Keras's", () => {
    expect(modelSpecOf(textSpec('{}'), textManifest)).toMatchObject({ init: 'uniform', output: 'sequence' });
    expect(modelSpecOf(csvSpec('{}'), csvManifest)).toMatchObject({ init: 'keras', output: 'last' });
  });

  it("keeps the spec's own choices", () => {
    expect(modelSpecOf(textSpec('{ init: keras, output: last }'), textManifest)).toMatchObject({ init: 'keras', output: 'last' });
    expect(modelSpecOf(csvSpec('{ init: uniform }'), csvManifest)).toMatchObject({ init: 'uniform', output: 'last' });
  });

  it("continues a warm start with its model's init and output where the spec names none", () => {
    const trainedBefore = modelSpecOf(textSpec('{ init: keras, output: last }'), textManifest);
    expect(modelSpecOf(textSpec('{}'), textManifest, trainedBefore)).toMatchObject({ init: 'keras', output: 'last' });
    expect(modelSpecOf(textSpec('{ output: sequence }'), textManifest, trainedBefore)).toMatchObject({ init: 'keras', output: 'sequence' });
  });
});
