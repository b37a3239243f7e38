/**
 * TypeScript to JavaScript for the sandbox: types are stripped with TypeScript's own
 * transpileModule (no type checking, as fast as parsing), and syntax errors come back as data
 * with line and column so the failure can be recorded as "syntax".
 */
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
