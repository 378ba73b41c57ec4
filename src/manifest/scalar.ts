/** Writing a string back as a YAML scalar in the style it was written in. */
import { Scalar } from 'yaml';

/** How a scalar is written in the source. */
export type ScalarStyle = 'plain' | 'single-quoted' | 'double-quoted' | 'block';

/** The style of a parsed scalar; a scalar without a source type (never the case once parsed) counts as plain. */
export function styleOf(scalar: Scalar): ScalarStyle {
  switch (scalar.type) {
    case Scalar.QUOTE_SINGLE:
      return 'single-quoted';
    case Scalar.QUOTE_DOUBLE:
      return 'double-quoted';
    case Scalar.BLOCK_FOLDED:
    case Scalar.BLOCK_LITERAL:
      return 'block';
    default:
      return 'plain';
  }
}

/**
 * `value` as the source text of a scalar in `style`. A plain scalar is the
 * value itself: image references contain nothing that YAML would read
 * otherwise (no `: `, ` #`, flow indicators or leading indicator), and the
 * rewrite is parsed back to check. Double quotes are JSON's, which YAML
 * reads the same way (so JSON files stay JSON). A block scalar (`|` or `>`)
 * is not rewritten: its value ends in a line break unless chomped, and its
 * indentation belongs to the lines around it.
 */
export function renderScalar(style: Exclude<ScalarStyle, 'block'>, value: string): string {
  switch (style) {
    case 'plain':
      return value;
    case 'single-quoted':
      return `'${value.replaceAll("'", "''")}'`;
    case 'double-quoted':
      return JSON.stringify(value);
  }
}
