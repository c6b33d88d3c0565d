// Rebuild isf_ledger/pages/static/ from the lock file's packages (run by `make assets`).
import { compile } from "sass";
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "isf_ledger", "pages", "static");
const modules = join(here, "node_modules");

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "fonts"), { recursive: true });

const css = compile(join(here, "src", "isf.scss"), {
  loadPaths: [modules],
  style: "compressed",
  quietDeps: true,
  silenceDeprecations: ["import"],
}).css;
if (/GDS Transport/i.test(css)) throw new Error("the CSS names GDS Transport");
writeFileSync(join(out, "isf.css"), css + "\n");

const copy = (from, to) => copyFileSync(join(modules, from), join(out, to));
copy("govuk-frontend/dist/govuk/govuk-frontend.min.js", "govuk-frontend.min.js");
for (const weight of ["400", "700"]) {
  const name = `atkinson-hyperlegible-latin-${weight}-normal.woff2`;
  copy(`@fontsource/atkinson-hyperlegible/files/${name}`, join("fonts", name));
}
copy("@fontsource/atkinson-hyperlegible/LICENSE", join("fonts", "OFL.txt"));
copy(join("..", "src", "init.js"), "init.js");
// axe-core, injected by the browser tests (tests/browser.py): the pages never load it.
copyFileSync(join(modules, "axe-core", "axe.min.js"), join(here, "..", "tests", "axe.min.js"));
console.log(`wrote ${out}`);
