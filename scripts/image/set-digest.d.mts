/** The types of set-digest.mjs, for the tests that import it. */
export declare function withImageDigest(text: string, digest: string): string;
