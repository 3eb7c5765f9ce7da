#!/usr/bin/env node
// Relative links in the README and docs must work where people read them:
// in the npm tarball (package.json "files", plus what npm always ships) and
// in the JSR package (deno.json "publish.include"). A link to a file that is
// not shipped must be an absolute URL instead. Also checks that every
// relative link's file exists in the repository.
//
//   node scripts/check_links.mjs
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const deno = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));

/** Does `rel` (a repo-relative path) match one of `patterns` (files, dirs/, dir/*.ext)? */
function shipped(rel, patterns) {
  return patterns.some((p) => {
    if (p.endsWith("/")) return rel.startsWith(p);
    if (p.includes("*")) {
      const re = new RegExp(
        "^" + p.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*") +
          "$",
      );
      return re.test(rel);
    }
    return rel === p;
  });
}
const npmFiles = [...pkg.files, "README.md", "LICENSE", "package.json"];
const jsrFiles = deno.publish.include;

const docs = [
  "README.md",
  ...readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) =>
    `docs/${f}`
  ),
];
const problems = [];
let links = 0;
for (const doc of docs) {
  const text = readFileSync(join(root, doc), "utf8").replace(
    /```[\s\S]*?```/g,
    "",
  );
  for (const m of text.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    const target = m[1];
    if (/^[a-z]+:/i.test(target) || target.startsWith("#")) continue;
    links++;
    const rel = normalize(
      relative(root, join(root, dirname(doc), target.split("#")[0])),
    );
    if (!existsSync(join(root, rel))) {
      problems.push(`${doc}: ${target} does not exist`);
    }
    if (!shipped(rel, npmFiles)) {
      problems.push(
        `${doc}: ${target} is not in the npm tarball (package.json "files"): ship it or link an absolute URL`,
      );
    }
    if (!shipped(rel, jsrFiles)) {
      problems.push(
        `${doc}: ${target} is not in the JSR package (deno.json "publish.include"): ship it or link an absolute URL`,
      );
    }
  }
}
if (problems.length > 0) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log(
  `links ok: ${links} relative links in ${docs.length} files resolve in the repo, the npm tarball and the JSR package`,
);
