#!/usr/bin/env node
// The API report: etc/<name>.api.md for every entry point in package.json "exports".
//
//   node scripts/api-report.mjs --update   rewrite the reports (npm run api:update)
//   node scripts/api-report.mjs            check them (npm run api:check): exits 1 and prints
//                                          the diff when the public surface differs from etc/
//
// Reads the .d.ts in dist/ (run `npm run build` first). Settings shared by every entry point
// are in api-extractor.json; the entry point and the report's name come from "exports", so a
// new subpath export gets its report without touching this script:
//   "."            → etc/rhea-rx.api.md
//   "./operators"  → etc/rhea-rx-operators.api.md
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import * as apiExtractor from '@microsoft/api-extractor';

// API Extractor 7.x: its version 8.0.0 is a release from 2019 that bundles TypeScript 3.1 and
// cannot read this project's declarations.
const { CompilerState, Extractor, ExtractorConfig, ExtractorLogLevel } = apiExtractor;
if (typeof ExtractorConfig?.prepare !== 'function' || typeof CompilerState?.create !== 'function') {
  console.error('api-report: needs @microsoft/api-extractor 7.x (7.60 or later); see package.json devDependencies.');
  process.exit(1);
}

// The TypeScript that API Extractor runs on, to look at the program it built.
const ts = createRequire(createRequire(import.meta.url).resolve('@microsoft/api-extractor'))('typescript');

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const update = process.argv.includes('--update');
const configPath = join(root, 'api-extractor.json');
const packageJsonPath = join(root, 'package.json');
const pkg = JSON.parse(readFileSync(packageJsonPath, 'utf8'));
const reportFolder = join(root, 'etc');
const tempFolder = join(root, 'temp', 'api');

/** Every subpath export with a `types` condition: its report name and its .d.ts. */
function entryPoints() {
  const entries = [];
  for (const [subpath, target] of Object.entries(pkg.exports ?? {})) {
    const types = typeof target === 'object' && target !== null ? target.types : undefined;
    if (typeof types !== 'string') continue;
    const suffix = subpath === '.' ? '' : `-${subpath.replace(/^\.\//, '').replaceAll('/', '-')}`;
    entries.push({ subpath, reportName: `${pkg.name}${suffix}`, dts: join(root, types) });
  }
  return entries;
}

const entries = entryPoints();
const missing = entries.filter((e) => !existsSync(e.dts));
if (missing.length > 0) {
  for (const e of missing) console.error(`api-report: ${relative(root, e.dts)} (${e.subpath}) does not exist; run \`npm run build\` first.`);
  process.exit(1);
}

const baseConfig = ExtractorConfig.loadFile(configPath);
const configs = entries.map((entry) =>
  ExtractorConfig.prepare({
    configObject: {
      ...baseConfig,
      mainEntryPointFilePath: entry.dts,
      apiReport: { ...baseConfig.apiReport, reportFileName: entry.reportName },
    },
    configObjectFullPath: configPath,
    packageJsonFullPath: packageJsonPath,
  }),
);

// One TypeScript program for all entry points: the .d.ts are compiled once.
const compilerState = CompilerState.create(configs[0], { additionalEntryPoints: entries.map((e) => e.dts) });

// API Extractor sees one entry point at a time, so it calls a type a "forgotten export" in two
// cases that are fine here; isForgivable() below lets exactly these through:
// - another entry point exports it: `Delivery` in the signatures of rhea-rx/operators;
// - only @internal declarations use it: `ConnectionManager` in Client's @internal constructor.
const program = compilerState.program;
const checker = program.getTypeChecker();
const resolveAlias = (symbol) => (symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol);
const publicExports = entries.map((entry) => {
  const file = program.getSourceFile(entry.dts);
  const moduleSymbol = file && checker.getSymbolAtLocation(file);
  return moduleSymbol ? checker.getExportsOfModule(moduleSymbol).map(resolveAlias) : [];
});
const exportedBy = publicExports.map((symbols) => new Set(symbols));
const forgottenName = /The symbol "([^"]+)" needs to be exported/;
const reportStatus = new Set(['console-api-report-copied', 'console-api-report-not-copied', 'console-api-report-created']);

/** The .d.ts in dist/ for a path API Extractor reports (mapped back to src/ by the declaration maps). */
function declarationFileOf(path) {
  if (path.endsWith('.d.ts')) return path;
  return join(root, 'dist', relative(root, path)).replace(/\.[cm]?tsx?$/, '.d.ts');
}

/** Every identifier under `node` (a whole file when `node` is a source file). */
function* identifiers(node) {
  if (ts.isIdentifier(node)) yield node;
  for (const child of node.getChildren()) yield* identifiers(child);
}

const isInternal = (node) => ts.getJSDocTags(node).some((tag) => tag.tagName.text === 'internal');
const isWithinInternal = (node) => {
  for (let n = node; n !== undefined; n = n.parent) if (isInternal(n)) return true;
  return false;
};

function isForgivable(entryIndex, name, sourceFilePath) {
  if (name === undefined || sourceFilePath === undefined) return false;
  const file = program.getSourceFile(declarationFileOf(sourceFilePath));
  if (file === undefined) return false;
  // The symbol the reporting file calls `name`.
  let symbol;
  for (const id of identifiers(file)) {
    if (id.text !== name) continue;
    const found = checker.getSymbolAtLocation(id);
    if (found !== undefined) {
      symbol = resolveAlias(found);
      break;
    }
  }
  if (symbol === undefined) return false;
  if (exportedBy.some((symbols, j) => j !== entryIndex && symbols.has(symbol))) return true;
  // Otherwise: used by no declaration of this entry point's exports outside an @internal one.
  const own = new Set(symbol.declarations ?? []);
  for (const exported of publicExports[entryIndex]) {
    for (const declaration of exported.declarations ?? []) {
      if (own.has(declaration)) continue;
      for (const id of identifiers(declaration)) {
        if (id.text !== name) continue;
        const found = checker.getSymbolAtLocation(id);
        if (found !== undefined && resolveAlias(found) === symbol && !isWithinInternal(id)) return false;
      }
    }
  }
  return true;
}

let failed = false;
const changed = [];
for (const [i, config] of configs.entries()) {
  const entry = entries[i];
  const result = Extractor.invoke(config, {
    localBuild: update,
    compilerState,
    messageCallback(message) {
      if (message.messageId === 'ae-forgotten-export') {
        if (isForgivable(i, forgottenName.exec(message.text)?.[1], message.sourceFilePath)) {
          message.logLevel = ExtractorLogLevel.None;
          message.handled = true;
          return;
        }
      }
      // "You have changed the API signature" and the like: reported below, with the diff.
      if (reportStatus.has(message.messageId)) {
        message.logLevel = ExtractorLogLevel.None;
        message.handled = true;
      }
      // Progress lines ("Analysis will use the bundled TypeScript version …") are noise here.
      if (message.logLevel === ExtractorLogLevel.Info || message.logLevel === ExtractorLogLevel.Verbose) {
        message.handled = true;
      }
    },
  });
  const report = relative(root, join(reportFolder, `${entry.reportName}.api.md`));
  if (result.errorCount > 0 || result.warningCount > 0) {
    failed = true;
    console.error(`api-report: ${entry.subpath}: ${result.errorCount} error(s), ${result.warningCount} warning(s) (see above)`);
  }
  if (result.apiReportChanged) {
    if (update) console.log(`api-report: ${report} updated`);
    else changed.push({ entry, report, temp: join(tempFolder, `${entry.reportName}.api.md`) });
  } else {
    console.log(`api-report: ${report} is up to date`);
  }
}

// A report whose entry point is gone is stale too.
const expected = new Set(entries.map((e) => `${e.reportName}.api.md`));
const stale = existsSync(reportFolder) ? readdirSync(reportFolder).filter((f) => f.endsWith('.api.md') && !expected.has(f)) : [];
for (const file of stale) {
  if (update) {
    rmSync(join(reportFolder, file));
    console.log(`api-report: etc/${file} removed (no such entry point in package.json "exports")`);
  } else {
    failed = true;
    console.error(`api-report: etc/${file} has no entry point in package.json "exports"; run \`npm run api:update\`.`);
  }
}

for (const { entry, report, temp } of changed) {
  failed = true;
  console.error(`\napi-report: the public API of ${entry.subpath === '.' ? pkg.name : `${pkg.name}/${entry.subpath.slice(2)}`} differs from ${report}:`);
  const target = join(root, report);
  if (existsSync(target)) {
    const diff = spawnSync('diff', ['-u', '--label', `${report} (committed)`, '--label', `${report} (built)`, target, temp], { encoding: 'utf8' });
    process.stderr.write(diff.stdout || diff.error?.message || '');
  } else {
    console.error(`  ${report} does not exist yet.`);
  }
}
if (changed.length > 0) {
  console.error('\nIf the change is intended, run `npm run api:update` (it builds first) and commit etc/.');
}

if (!failed) rmSync(tempFolder, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
