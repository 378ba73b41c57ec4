import { describe, expect, it } from 'vitest';
import { truncate } from '../src/text.js';

describe('truncate', () => {
  it('keeps text that fits', () => {
    expect(truncate('twelve chars', 12)).toBe('twelve chars');
  });

  it('cuts longer text to at most max characters, ending with …', () => {
    expect(truncate('thirteen char', 12)).toBe('thirteen ch…');
    expect(truncate('x'.repeat(500), 300)).toHaveLength(300);
  });
});
