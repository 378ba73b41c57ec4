import { describe, expect, it } from 'vitest';
import { namedReference } from '../../src/reference/reference.js';

describe('namedReference', () => {
  it('derives the name from domain and path', () => {
    expect(namedReference({ domain: '[::1]:5000', path: 'app' }).name).toBe('[::1]:5000/app');
  });

  it('uses the path alone as the name when there is no domain', () => {
    expect(namedReference({ domain: '', path: 'app', tag: '1' })).toEqual({ domain: '', path: 'app', name: 'app', tag: '1', digest: undefined });
  });
});
