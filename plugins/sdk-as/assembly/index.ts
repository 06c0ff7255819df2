// wasmdns AssemblyScript SDK: everything a plugin imports. A plugin's entry file
// also re-exports the ABI glue: `export * from "<sdk>/assembly/exports";`.
export * from "./types";
export { register, log, LogLevel } from "./abi";
export { JsonValue, parseJson } from "./json";
export { isSubdomainOf, normalizeName } from "./names";
