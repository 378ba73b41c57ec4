import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { appendTopLevelEntry } from '../../src/manifest/append.js';
import { parseManifest } from '../../src/manifest/parse.js';

const results = [{ message: 'image "x:1" not pinned: 404', severity: 'error' }];

describe('appendTopLevelEntry', () => {
  it('appends the entry after a block mapping and leaves its text as it was', () => {
    const source = '# list\napiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- kind: Pod # a pod\n  spec: {containers: []}\n';
    const text = appendTopLevelEntry(parseManifest(source, 'x'), 'results', results);
    expect(text.startsWith(source)).toBe(true);
    expect(text.slice(source.length)).toBe('results:\n  - message: \'image "x:1" not pinned: 404\'\n    severity: error\n');
  });

  it('adds a line break when the source has none at its end, and keeps a trailing comment after the entry', () => {
    expect(appendTopLevelEntry(parseManifest('kind: ResourceList\nitems: []', 'x'), 'results', [])).toBe('kind: ResourceList\nitems: []\nresults: []\n');
    const withComment = 'kind: ResourceList\nitems: []\n# the end\n';
    const text = appendTopLevelEntry(parseManifest(withComment, 'x'), 'results', results);
    expect(parse(text)).toEqual({ kind: 'ResourceList', items: [], results });
    expect(text).toContain('# the end\n');
  });

  it('serialises the document again for JSON, or when the key is there already', () => {
    const json = appendTopLevelEntry(parseManifest('{"kind": "ResourceList", "items": []}', 'x'), 'results', results);
    expect(parse(json)).toEqual({ kind: 'ResourceList', items: [], results });
    const existing = appendTopLevelEntry(parseManifest('kind: ResourceList # keep\nresults: []\n', 'x'), 'results', results);
    expect(parse(existing)).toEqual({ kind: 'ResourceList', results });
    expect(existing).toContain('# keep');
  });
});
