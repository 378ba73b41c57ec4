/** Validates a SARIF log against the SARIF 2.1.0 JSON schema (the OASIS standard's, rtm.5, as @microsoft/jest-sarif ships it). */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import AjvDraft04 from 'ajv-draft-04';
import ajvFormats from 'ajv-formats';

// CommonJS modules: Node's default import is module.exports, whose `default` is the export itself.
const Ajv = AjvDraft04.default;
const addFormats = ajvFormats.default;
const require = createRequire(import.meta.url);
const SCHEMA = JSON.parse(readFileSync(require.resolve('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json'), 'utf8')) as Record<string, unknown>;

/** What the schema finds wrong with `log`, one line per error; none when it is valid. */
export function sarifSchemaErrors(log: unknown): string[] {
  // unicodeRegExp off: the schema's `language` pattern has a lone `]`, which only a non-unicode RegExp accepts.
  const ajv = new Ajv({ allErrors: true, unicodeRegExp: false });
  addFormats(ajv);
  const check = ajv.compile(SCHEMA);
  return check(log) ? [] : (check.errors ?? []).map((error) => `${error.instancePath} ${error.message ?? ''}`);
}
