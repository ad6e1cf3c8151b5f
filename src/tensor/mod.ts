/**
 * The tensor library: Tensor, factories, functional nn ops, scopes, errors and runtime settings.
 *
 * @module
 */
export * from "./dtype.ts";
export * from "./errors.ts";
export * from "./scope.ts";
export * from "./tensor.ts";
export * from "./functional.ts";
export * from "./runtime.ts";
