/**
 * What `accel enable` did, recorded so that a second enable can tell it has nothing to do, and so
 * that `disable` and `status` (other processes, later) know the cgroup and the programs. bpffs
 * holds only pins, no regular files, so the record lives in a small JSON manifest in a state
 * directory (default /run/tsbpf/state, cleared at boot like bpffs), one file per pin directory.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { SockopsMapRole } from '../programs/maps.js';
import type { SockopsVariant } from '../programs/options.js';
import { AccelError } from './errors.js';

/** Default state directory. */
export const DEFAULT_STATE_DIR = '/run/tsbpf/state';

/** Default pin directory of `accel enable`. */
export const DEFAULT_PIN_DIR = '/sys/fs/bpf/tsbpf';

/** A program as enabled: its kernel identity and its pin. */
export interface ManifestProgram {
  readonly name: string;
  readonly id: number;
  readonly tag: string;
  readonly pin: string;
}

/** A map as enabled. */
export interface ManifestMap {
  readonly role: SockopsMapRole;
  readonly name: string;
  readonly id: number;
  readonly pin: string;
}

/** The manifest of one enabled pin directory. */
export interface AccelManifest {
  readonly version: 1;
  readonly pinDir: string;
  /** Real path of the cgroup the sock_ops program is attached to. */
  readonly cgroup: string;
  readonly variant: SockopsVariant;
  /** sha256 of the object's ELF bytes: the same build gives the same hash. */
  readonly objectSha256: string;
  /** sha256 of the configuration's map entries (services, identities, policy). */
  readonly configSha256: string;
  /** 'host': endpoints follow the host's addresses; 'config': fixed by the configuration. */
  readonly endpointsSource: 'host' | 'config';
  readonly endpoints: readonly string[];
  readonly programs: { readonly sockops: ManifestProgram; readonly skMsg: ManifestProgram };
  readonly maps: readonly ManifestMap[];
  /** ISO time of the enable. */
  readonly enabledAt: string;
}

/** The manifest file of `pinDir` in `stateDir`. */
export function manifestPath(stateDir: string, pinDir: string): string {
  const id = resolve(pinDir)
    .replace(/^\/+/, '')
    .replace(/[^A-Za-z0-9_-]/g, '_');
  return join(stateDir, `${id}.json`);
}

/** Reads the manifest of `pinDir`, or undefined when none is recorded. */
export function readManifest(stateDir: string, pinDir: string): AccelManifest | undefined {
  const path = manifestPath(stateDir, pinDir);
  if (!existsSync(path)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new AccelError(
      'ERR_STATE',
      `state file ${path} is unreadable (${(err as Error).message}); run \`tsbpf accel disable --pin-dir ${pinDir}\` to clean up`,
    );
  }
  const m = parsed as Partial<AccelManifest>;
  if (m.version !== 1 || typeof m.cgroup !== 'string' || !m.programs || !Array.isArray(m.maps)) {
    throw new AccelError(
      'ERR_STATE',
      `state file ${path} is not a tsbpf manifest of version 1; run \`tsbpf accel disable --pin-dir ${pinDir}\` to clean up`,
    );
  }
  return m as AccelManifest;
}

/** Writes the manifest atomically (a temporary file renamed over the old one). */
export function writeManifest(stateDir: string, manifest: AccelManifest): void {
  mkdirSync(stateDir, { recursive: true });
  const path = manifestPath(stateDir, manifest.pinDir);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(manifest, null, 2)}\n`);
  renameSync(tmp, path);
}

/** Removes the manifest of `pinDir`; true if there was one. */
export function removeManifest(stateDir: string, pinDir: string): boolean {
  const path = manifestPath(stateDir, pinDir);
  if (!existsSync(path)) return false;
  rmSync(path);
  return true;
}
