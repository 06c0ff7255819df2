// asc transform: gives the SDK's exports their component-model names, which
// AssemblyScript identifiers cannot spell ("wasmdns:plugin/policy@0.1.0#init").
// Used by build-plugin.sh as `--transform <sdk>/transform.js`.
import { Transform } from "assemblyscript/transform";
import binaryen from "assemblyscript/lib/binaryen.js";

const POLICY = "wasmdns:plugin/policy@0.1.0";
const RENAMES = {
  __wasmdns_init: `${POLICY}#init`,
  __wasmdns_on_query: `${POLICY}#on-query`,
  __wasmdns_on_response: `${POLICY}#on-response`,
};

export default class ComponentNames extends Transform {
  afterCompile(module) {
    for (const [from, to] of Object.entries(RENAMES)) {
      // `module` is binaryen.js's Module wrapper here.
      const ref = module.getExport(from);
      if (!ref) throw new Error(`wasmdns sdk-as: export ${from} missing; re-export <sdk>/assembly/exports from the entry file`);
      const internal = binaryen.getExportInfo(ref).value;
      module.removeExport(from);
      module.addFunctionExport(internal, to);
    }
  }
}
