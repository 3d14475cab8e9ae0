// The table lives in shared/function-specs.ts; deploy's modules import it from here.
export * from '../shared/function-specs';
