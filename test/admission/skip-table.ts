/**
 * (pattern, image) pairs and whether the image is skipped: what the webhook's skip list
 * (src/admission/skip.ts) and the strict policy's CEL must both answer. The unit test
 * asks the webhook's code; test/e2e/skip-list.e2e.test.ts asks the webhook and the
 * policy on a real kube-apiserver, with the same ConfigMap.
 *
 * `patterns` is the ConfigMap's whole `data.patterns`; images are as written in a Pod.
 */
export interface SkipCase {
  readonly patterns: string;
  readonly image: string;
  readonly skipped: boolean;
  /** Which rule the row shows. */
  readonly why: string;
}

export const SKIP_TABLE: readonly SkipCase[] = [
  { patterns: 'docker.io/library/nginx', image: 'nginx', skipped: true, why: 'a Docker Hub short name is normalised' },
  { patterns: 'docker.io/library/nginx', image: 'nginx:1.27', skipped: true, why: 'a pattern without a tag matches every tag' },
  { patterns: 'docker.io/library/nginx', image: 'docker.io/nginx:1.27', skipped: true, why: 'docker.io/x is docker.io/library/x' },
  { patterns: 'docker.io/library/nginx', image: 'index.docker.io/library/nginx:1.27', skipped: true, why: 'index.docker.io is docker.io' },
  { patterns: 'docker.io/library/nginx', image: 'nginx-unprivileged:1.27', skipped: false, why: 'the whole name must match' },
  { patterns: 'nginx', image: 'nginx:1.27', skipped: false, why: 'patterns are not normalised' },
  { patterns: 'docker.io/library/nginx:latest', image: 'nginx', skipped: false, why: 'an image without a tag has none, not latest' },
  { patterns: 'docker.io/istio/*', image: 'istio/proxyv2:1.20', skipped: true, why: '* spans one path component' },
  { patterns: 'docker.io/istio/*', image: 'istio/sub/proxy:1.20', skipped: false, why: '* does not cross /' },
  { patterns: 'docker.io/istio/**', image: 'istio/sub/proxy:1.20', skipped: true, why: '** crosses /' },
  { patterns: 'docker.io/*', image: 'nginx:1.27', skipped: false, why: 'library/ is a path component' },
  { patterns: 'docker.io/library/ng*', image: 'nginx:1.27', skipped: true, why: '* may run into the tag' },
  { patterns: 'ghcr.io/o?g/tool', image: 'ghcr.io/org/tool:v1', skipped: true, why: '? is one character' },
  { patterns: 'ghcr.io/o?g/tool', image: 'ghcr.io/o/g/tool:v1', skipped: false, why: '? is not /' },
  { patterns: 'localhost:5000/app', image: 'localhost:5000/app:1', skipped: true, why: 'a port is part of the name' },
  { patterns: 'localhost:5000/app', image: 'localhost:5001/app:1', skipped: false, why: 'another port is another registry' },
  { patterns: 'docker.io/library/busybox:1.36', image: 'busybox:1.36', skipped: true, why: 'a pattern may name the tag' },
  { patterns: 'docker.io/library/busybox:1.36', image: 'busybox:1.37', skipped: false, why: 'and then only that tag' },
  { patterns: 'docker.io/library/busybox:1.*', image: 'busybox:1.36.1', skipped: true, why: '* within a tag' },
  { patterns: 'quay.io/team/app:v*', image: 'quay.io/team/app', skipped: false, why: 'a pattern with a tag needs one' },
  { patterns: 'Upper.example.com/x', image: 'Upper.example.com/x:1', skipped: true, why: 'a registry keeps its case' },
  { patterns: 'upper.example.com/x', image: 'Upper.example.com/x:1', skipped: false, why: 'matching is case-sensitive' },
  { patterns: 'registry.example.com/team/**', image: 'registry.example.com/team:1', skipped: false, why: '/** needs the /' },
  { patterns: '*.example.com/**', image: 'registry.example.com/team/a:1', skipped: true, why: '* in the registry' },
  { patterns: '**', image: 'quay.io/team/app:v2', skipped: true, why: '** alone matches every image' },
  { patterns: '', image: 'nginx:1.27', skipped: false, why: 'an empty list skips nothing' },
  { patterns: 'quay.io/a\n\nquay.io/b/*\n', image: 'quay.io/b/c:1', skipped: true, why: 'one pattern per line, blank lines ignored' },
  { patterns: '  \tquay.io/team/app \t', image: 'quay.io/team/app:v2', skipped: true, why: 'spaces and tabs around a pattern are trimmed' },
  { patterns: '# list\r\nquay.io/team/app\r\n', image: 'quay.io/team/app:v2', skipped: true, why: 'CRLF line ends are trimmed' },
  { patterns: '# quay.io/team/app', image: 'quay.io/team/app:v2', skipped: false, why: 'a comment line is ignored' },
  { patterns: 'quay.io/team/app # the app', image: 'quay.io/team/app:v2', skipped: false, why: 'a comment after a pattern spoils the line' },
  { patterns: 'quay.io/team/[a]pp', image: 'quay.io/team/app:v2', skipped: false, why: 'a line with [ is ignored, not a character class' },
  { patterns: '\u00a0quay.io/team/app', image: 'quay.io/team/app:v2', skipped: true, why: "U+00A0 is a space to Go's TrimSpace" },
  { patterns: '\u0085quay.io/team/app', image: 'quay.io/team/app:v2', skipped: true, why: "U+0085 is a space to Go's TrimSpace (not to String.prototype.trim)" },
  { patterns: '\ufeffquay.io/team/app', image: 'quay.io/team/app:v2', skipped: false, why: "U+FEFF is no space to Go's TrimSpace (it is to String.prototype.trim)" },
];
