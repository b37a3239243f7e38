/**
 * TypeScript to JavaScript for the sandbox: types are stripped with TypeScript's own
 * transpileModule (as fast as parsing), and syntax errors come back as data with line and column
 * so the failure can be recorded as "syntax". An optional full type check reports type errors.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';

import ts from 'typescript';

export type TranspileResult = { js: string } | { syntaxError: string };

export function toJavaScript(source: string, fileName = 'program.ts'): TranspileResult {
  const output = ts.transpileModule(source, {
    fileName,
    reportDiagnostics: true,
    compilerOptions: {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.CommonJS,
      // Programs are scripts run once; keep their output close to the source.
      removeComments: false,
      sourceMap: false,
    },
  });
  const errors = (output.diagnostics ?? []).filter(
    (d) => d.category === ts.DiagnosticCategory.Error,
  );
  if (errors.length > 0) return { syntaxError: errors.map(describe).join('\n') };
  return { js: output.outputText };
}

function describe(diagnostic: ts.Diagnostic): string {
  const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
  if (!diagnostic.file || diagnostic.start === undefined) return message;
  const { line, character } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
  return `line ${line + 1}, column ${character + 1}: ${message}`;
}

const libDir = dirname(createRequire(import.meta.url).resolve('typescript'));
const checkOptions: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.CommonJS,
  lib: ['lib.es2022.d.ts'],
  strict: false,
  noEmit: true,
  types: [],
};
// Parsed library declarations are kept across calls: parsing them is most of a check's cost.
const libFiles = new Map<string, ts.SourceFile>();
// Node globals a test harness touches, declared loosely: the check is about the solution's types,
// and @types/node would triple its cost. Same-typed `declare var` repeats are legal.
const GLOBALS_FILE = 'sandbox-globals.d.ts';
const GLOBALS = 'declare var console: any;\ndeclare var process: any;\ndeclare var require: any;\n';

/**
 * Type errors of a one-file program, as "line L, column C: message" lines, or null when it
 * type-checks. Like MultiPL-E's TypeScript harness, a program that does not compile fails.
 */
export function typeErrors(source: string, fileName = 'program.ts'): string | null {
  const host = ts.createCompilerHost(checkOptions);
  const readLib = host.getSourceFile.bind(host);
  host.getSourceFile = (name, languageVersion) => {
    if (name === fileName) return ts.createSourceFile(name, source, languageVersion, true);
    if (name === GLOBALS_FILE) return ts.createSourceFile(name, GLOBALS, languageVersion, true);
    let cached = libFiles.get(name);
    if (!cached) {
      cached = readLib(join(libDir, basename(name)), languageVersion);
      if (cached) libFiles.set(name, cached);
    }
    return cached;
  };
  host.fileExists = (name) =>
    name === fileName || name === GLOBALS_FILE || existsSync(join(libDir, basename(name)));
  host.writeFile = () => {};
  const program = ts.createProgram([fileName, GLOBALS_FILE], checkOptions, host);
  const errors = ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.category === ts.DiagnosticCategory.Error);
  return errors.length > 0 ? errors.map(describe).join('\n') : null;
}
