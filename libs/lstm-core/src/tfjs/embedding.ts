// The embedding lookup and its gradient, in plain JS: a row copy forward and a scatter-add
// backward (tfjs-wasm has no UnsortedSegmentSum, so no gather gradient to lean on).

import { checkLength } from './tensor-io';

function checkTokens(tokens: Int32Array, V: number): void {
  for (let n = 0; n < tokens.length; n++) {
    const token = tokens[n]!;
    if (token < 0 || token >= V) throw new RangeError(`embedding: token ${token} at position ${n} is outside [0, ${V})`);
  }
}

function vocabularySize(table: Float32Array, E: number, what: string): number {
  if (!Number.isInteger(E) || E < 1 || table.length % E !== 0) {
    throw new RangeError(`${what} [V,E]: ${table.length} values do not make rows of E = ${E}`);
  }
  return table.length / E;
}

/** tokens [B*T] (ids < V), table [V,E] -> x [B,T,E], written into x. */
export function embeddingForward(tokens: Int32Array, table: Float32Array, E: number, x: Float32Array): void {
  checkTokens(tokens, vocabularySize(table, E, 'embedding table'));
  checkLength('embedding x [B,T,E]', x, tokens.length * E);
  for (let n = 0; n < tokens.length; n++) {
    const from = tokens[n]! * E;
    x.set(table.subarray(from, from + E), n * E);
  }
}

/** dTable [V,E] += dX [B,T,E] scattered to the rows named by tokens [B*T], in token order. */
export function embeddingBackward(tokens: Int32Array, dX: Float32Array, dTable: Float32Array, E: number): void {
  checkTokens(tokens, vocabularySize(dTable, E, 'embedding gradient'));
  checkLength('embedding dX [B,T,E]', dX, tokens.length * E);
  for (let n = 0; n < tokens.length; n++) {
    const to = tokens[n]! * E;
    const from = n * E;
    for (let e = 0; e < E; e++) dTable[to + e] = dTable[to + e]! + dX[from + e]!;
  }
}
