/** The SARIF 2.1.0 log `check` and `audit` write: one run, one rule per kind of finding. Pure. */

/** A kind of finding as SARIF names and describes it. */
export interface SarifRule {
  readonly id: string;
  readonly name: string;
  readonly short: string;
  readonly full: string;
}

export interface SarifRun {
  readonly version: string;
  readonly rules: readonly SarifRule[];
  /** Results in SARIF's shape, each naming its rule by id and index in `rules`. */
  readonly results: readonly Record<string, unknown>[];
  /** What could not be read or looked at: the run's tool notifications, and then it did not succeed. */
  readonly problems: readonly string[];
  /** More properties of the run (e.g. `originalUriBaseIds`). */
  readonly extra?: Record<string, unknown>;
}

export function sarifLog(run: SarifRun): Record<string, unknown> {
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'digest-pinner',
            version: run.version,
            rules: run.rules.map((rule) => ({
              id: rule.id,
              name: rule.name,
              shortDescription: { text: rule.short },
              fullDescription: { text: rule.full },
              defaultConfiguration: { level: 'error' },
            })),
          },
        },
        ...run.extra,
        invocations: [
          {
            executionSuccessful: run.problems.length === 0,
            toolExecutionNotifications: run.problems.map((problem) => ({ level: 'error', message: { text: problem } })),
          },
        ],
        results: run.results,
      },
    ],
  };
}
