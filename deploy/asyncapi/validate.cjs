// Parse an AsyncAPI document with the real parser (@asyncapi/parser, pinned in package-lock.json beside this file)
// and print what it says as one JSON object: {"valid": bool, "diagnostics": [...]}. Exit 1 if it reports an error.
//   NODE_PATH=.cache/asyncapi/node_modules node deploy/asyncapi/validate.cjs schemas/asyncapi.json
// Run by tests/wire/test_asyncapi.py; deploy/test.sh installs the parser (deploy/asyncapi.sh).
const fs = require("fs");
const { Parser } = require("@asyncapi/parser");

const SEVERITY = ["error", "warning", "information", "hint"];

(async () => {
  const { document, diagnostics } = await new Parser().parse(fs.readFileSync(process.argv[2], "utf8"));
  const said = diagnostics.map((d) => ({
    severity: SEVERITY[d.severity] ?? String(d.severity), code: d.code, message: d.message, path: d.path.join("/"),
  }));
  const valid = document !== undefined && !said.some((d) => d.severity === "error");
  console.log(JSON.stringify({ valid, version: document?.version(), channels: document?.channels().length ?? 0,
                               diagnostics: said }));
  process.exit(valid ? 0 : 1);
})();
