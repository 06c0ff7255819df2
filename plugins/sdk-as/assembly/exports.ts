// The component's exports, re-exported by a plugin's entry file. ../transform.js
// renames them to "wasmdns:plugin/policy@0.1.0#init" etc.
export { __wasmdns_init, __wasmdns_on_query, __wasmdns_on_response, cabi_realloc } from "./abi";
