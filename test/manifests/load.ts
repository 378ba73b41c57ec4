/** Reads manifests/ as plain YAML, the way a reviewer (or kustomize) sees it, for the manifest tests. */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const MANIFESTS_DIR = fileURLToPath(new URL('../../manifests/', import.meta.url));

/** A Kubernetes object, as far as these tests look into it. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string>;
    readonly annotations?: Record<string, string> };
  readonly [field: string]: unknown;
}

export interface Kustomization {
  readonly resources?: string[];
  readonly patches?: { path?: string; patch?: string; target?: Record<string, string> }[];
  readonly [field: string]: unknown;
}

/** Every document of a YAML file, as plain data; throws on a syntax error. */
export function readDocuments(path: string): unknown[] {
  const documents = parseAllDocuments(readFileSync(path, 'utf8'));
  if (!Array.isArray(documents)) return [];
  return documents.map((document) => {
    if (document.errors.length > 0) throw new Error(`${path}: ${document.errors.map(String).join('; ')}`);
    return document.toJS() as unknown;
  });
}

/** The one document of a file that must hold exactly one. */
export function readOne(path: string): unknown {
  const documents = readDocuments(path);
  if (documents.length !== 1) throw new Error(`${path}: ${documents.length} documents, expected one`);
  return documents[0];
}

/** Every file under manifests/, relative to it. */
export function allFiles(dir = MANIFESTS_DIR): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? allFiles(path) : [relative(MANIFESTS_DIR, path)];
  });
}

/** Directories (relative to manifests/) that hold a kustomization.yaml. */
export function kustomizationDirs(): string[] {
  return allFiles()
    .filter((file) => file === 'kustomization.yaml' || file.endsWith('/kustomization.yaml'))
    .map((file) => file.slice(0, -'kustomization.yaml'.length).replace(/\/$/, ''));
}

export function readKustomization(dir: string): Kustomization {
  return readOne(join(MANIFESTS_DIR, dir, 'kustomization.yaml')) as Kustomization;
}

/** Files and directories a kustomization refers to, resolved relative to manifests/. */
export function referencedPaths(dir: string): { resources: string[]; patches: string[] } {
  const kustomization = readKustomization(dir);
  const from = (path: string): string => relative(MANIFESTS_DIR, resolve(MANIFESTS_DIR, dir, path));
  return {
    resources: (kustomization.resources ?? []).map(from),
    patches: (kustomization.patches ?? []).flatMap((patch) => (patch.path === undefined ? [] : [from(patch.path)])),
  };
}

/** The objects a kustomization directory builds, following resources into directories (patches not applied). */
export function objectsOf(dir: string): KubeObject[] {
  return referencedPaths(dir).resources.flatMap((path) =>
    existsSync(join(MANIFESTS_DIR, path, 'kustomization.yaml')) ? objectsOf(path) : [readOne(join(MANIFESTS_DIR, path)) as KubeObject]);
}

/** The object of `kind` named `name` among `objects`; throws when absent. */
export function find(objects: readonly KubeObject[], kind: string, name: string): KubeObject {
  const found = objects.find((object) => object.kind === kind && object.metadata.name === name);
  if (found === undefined) throw new Error(`no ${kind} ${name}`);
  return found;
}
