/** Reading the project's Markdown the way GitHub renders it: fenced blocks, links, heading anchors. */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** The user-facing Markdown files, relative to the repository. */
export function docFiles(): string[] {
  const docs = readdirSync(join(REPO, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`);
  return ['README.md', 'bench/README.md', 'manifests/README.md', ...docs.sort()];
}

export function read(file: string): string {
  return readFileSync(join(REPO, file), 'utf8');
}

const FENCE = /^(\s*)```(\w*)\n([\s\S]*?)^\1```\s*$/gm;

/** The contents of the fenced code blocks of `text` in language `lang` (`sh`, `yaml`…), in order. */
export function fencedBlocks(text: string, lang: string): string[] {
  return [...text.matchAll(FENCE)].filter((match) => match[2] === lang).map((match) => dedent(match[3] ?? '', match[1] ?? ''));
}

function dedent(block: string, indent: string): string {
  return block.split('\n').map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line)).join('\n');
}

/** `text` without fenced blocks and inline code, where brackets are not links. */
function prose(text: string): string {
  return text.replace(FENCE, '').replace(/`[^`\n]*`/g, '');
}

/** Every link target of `text` that is not a URL: `path`, `path#anchor` or `#anchor`. */
export function localLinks(text: string): string[] {
  return [...prose(text).matchAll(/\]\(([^)\s]+)\)/g)].map((match) => match[1] ?? '').filter((target) => !/^[a-z]+:/.test(target));
}

/** The anchors GitHub gives the headings of `text`: lower case, punctuation dropped, spaces to `-`, repeats numbered. */
export function headingAnchors(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const match of text.replace(FENCE, '').matchAll(/^#{1,6} +(.+?) *#*$/gm)) {
    const base = (match[1] ?? '').toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

/** The commands of a shell block: continuation lines joined, comments and heredoc bodies dropped. */
export function shellCommands(block: string): string[] {
  const commands: string[] = [];
  let heredocEnd: string | undefined;
  let pending = '';
  for (const line of block.split('\n')) {
    if (heredocEnd !== undefined) {
      if (line.trim() === heredocEnd) heredocEnd = undefined;
      continue;
    }
    const code = line.replace(/(^|\s)#.*$/, '').trimEnd();
    if (code.endsWith('\\')) {
      pending += `${code.slice(0, -1)} `;
      continue;
    }
    const command = `${pending}${code}`.trim();
    pending = '';
    if (command !== '') commands.push(command);
    heredocEnd = /<<-?'?(\w+)'?/.exec(command)?.[1];
  }
  return commands;
}

/** The heredoc bodies of a shell block, by their end word. */
export function heredocs(block: string): Map<string, string> {
  const bodies = new Map<string, string>();
  for (const match of block.matchAll(/<<-?'?(\w+)'?[^\n]*\n([\s\S]*?)^\1$/gm)) bodies.set(match[1] ?? '', match[2] ?? '');
  return bodies;
}

/** The image the README's install commands name: the one string a test replaces with an image it built. */
export const README_IMAGE = 'registry.example.com/digest-pinner';

/** The sh blocks of the README's `## Install` section, in order. */
export function installBlocks(): string[] {
  const readme = read('README.md');
  const start = readme.indexOf('\n## Install\n');
  if (start === -1) throw new Error('README.md has no "## Install" section');
  const end = readme.indexOf('\n## ', start + 1);
  return fencedBlocks(readme.slice(start, end === -1 ? undefined : end), 'sh');
}

/** The one block of `blocks` that matches `pattern`; throws when none or several do. */
export function onlyBlock(blocks: readonly string[], pattern: RegExp): string {
  const found = blocks.filter((text) => pattern.test(text));
  const [block] = found;
  if (found.length !== 1 || block === undefined) throw new Error(`${found.length} sh blocks of the README's Install section match ${String(pattern)}, not one`);
  return block;
}

/** package.json's version: the image tag the README pushes and the chart deploys. */
export function packageVersion(): string {
  return (JSON.parse(read('package.json')) as { version: string }).version;
}

export function repoPath(absolute: string): string {
  return relative(REPO, absolute);
}
