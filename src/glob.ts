/** Globs as the webhook's flags and kubelet's keyring write them, compiled to regular expressions. */

const GLOB_SPECIAL = /[.+^${}()|[\]\\]/g;

/** Compiles a glob: `*` matches within one path segment, `**` across segments, `?` one character. */
export function compileGlob(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern.charAt(i);
    if (char === '*' && pattern.charAt(i + 1) === '*') {
      source += '.*';
      i++;
    } else if (char === '*') {
      source += '[^/]*';
    } else if (char === '?') {
      source += '[^/]';
    } else {
      source += char.replace(GLOB_SPECIAL, '\\$&');
    }
  }
  return new RegExp(`^${source}$`);
}
