/**
 * Static checks of deploy/: the systemd unit, the Dockerfile and the DaemonSet parse, mount and
 * privilege what the agent needs, and their command lines are accepted by the CLI's own parser.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { parseYamlSubset, YamlSubsetError, type YamlValue } from './yaml-subset.js';

/** Runs the CLI with `args` plus --help: strict parsing refuses unknown options before help. */
async function cliAccepts(args: readonly string[]): Promise<{ code: number; err: string }> {
  let err = '';
  const code = await main([...args, '--help'], { stdout: () => {}, stderr: (t) => (err += t) });
  return { code, err };
}

type Obj = { [key: string]: YamlValue };
const obj = (v: YamlValue | undefined): Obj => {
  expect(v !== null && typeof v === 'object' && !Array.isArray(v)).toBe(true);
  return v as Obj;
};
const arr = (v: YamlValue | undefined): YamlValue[] => {
  expect(Array.isArray(v)).toBe(true);
  return v as YamlValue[];
};

describe('YAML subset parser', () => {
  it('parses mappings, sequences, `- key:` items, quoted and flow scalars, comments', () => {
    const doc = parseYamlSubset(`# top
a: 1
b: "two # not a comment"
c: 'it''s'
d: [x, "y", 3]
e:
  - p: true
    q: null
  - plain
  -
    - nested
f:
- same-indent
g: ~  # comment
`);
    expect(doc).toEqual({
      a: 1,
      b: 'two # not a comment',
      c: "it's",
      d: ['x', 'y', 3],
      e: [{ p: true, q: null }, 'plain', ['nested']],
      f: ['same-indent'],
      g: null,
    });
  });

  it('refuses what it does not understand, naming the line', () => {
    expect(() => parseYamlSubset('a: &x 1')).toThrow(/line 1: "&x 1" is outside the subset/);
    expect(() => parseYamlSubset('a: {b: 1}')).toThrow(YamlSubsetError);
    expect(() => parseYamlSubset('a: 1\n   b: 2')).toThrow(/line 2: unexpected indentation/);
    expect(() => parseYamlSubset('a: 1\na: 2')).toThrow(/line 2: duplicate key a/);
    expect(() => parseYamlSubset('a: |\n  text')).toThrow(/outside the subset/);
    expect(() => parseYamlSubset('\ta: 1')).toThrow(/tabs/);
  });

  it('round-trips generated documents (render → parse)', () => {
    const key = fc.stringMatching(/^[a-z][a-zA-Z0-9_-]{0,8}$/);
    const str = fc.string({ maxLength: 12 }).filter((s) => !s.includes('\n'));
    const leaf = fc.oneof(
      str,
      fc.integer({ min: -1000, max: 1000 }),
      fc.boolean(),
      fc.constant(null),
    );
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, leaf, tie('seq'), tie('map')),
      seq: fc.array(tie('node'), { minLength: 1, maxLength: 3 }),
      map: fc.dictionary(key, tie('node'), { minKeys: 1, maxKeys: 3 }),
    }));
    const render = (v: unknown, indent: number): string[] => {
      const pad = ' '.repeat(indent);
      if (Array.isArray(v)) {
        return v.flatMap((item) => {
          if (item !== null && typeof item === 'object')
            return [`${pad}-`, ...render(item, indent + 2)];
          return [`${pad}- ${JSON.stringify(item)}`];
        });
      }
      return Object.entries(v as object).flatMap(([k, item]) => {
        if (item !== null && typeof item === 'object')
          return [`${pad}${k}:`, ...render(item, indent + 2)];
        return [`${pad}${k}: ${JSON.stringify(item)}`];
      });
    };
    fc.assert(
      fc.property(value.map as fc.Arbitrary<Record<string, unknown>>, (doc) => {
        expect(parseYamlSubset(render(doc, 0).join('\n'))).toEqual(doc);
      }),
      { numRuns: 300 },
    );
  });
});

describe('cliAccepts', () => {
  it('refuses an option `accel run` does not have (the checks below can fail)', async () => {
    expect((await cliAccepts(['accel', 'run', '--metrics', '9464'])).code).toBe(2);
  });
});

describe('deploy/daemonset.yaml', () => {
  const ds = obj(parseYamlSubset(readFileSync('deploy/daemonset.yaml', 'utf8')));
  const spec = obj(obj(obj(ds.spec).template).spec);
  const container = obj(arr(spec.containers)[0]);

  it('is an apps/v1 DaemonSet on the host network, privileged', () => {
    expect(ds.apiVersion).toBe('apps/v1');
    expect(ds.kind).toBe('DaemonSet');
    expect(obj(obj(ds.spec).selector).matchLabels).toEqual(
      obj(obj(obj(ds.spec).template).metadata).labels,
    );
    expect(spec.hostNetwork).toBe(true);
    expect(spec.dnsPolicy).toBe('ClusterFirstWithHostNet');
    expect(obj(container.securityContext).privileged).toBe(true);
    expect(Number(spec.terminationGracePeriodSeconds)).toBeGreaterThanOrEqual(10);
  });

  it('mounts the host bpffs (bidirectional), the cgroup v2 root and the state directory', () => {
    const volumes = new Map(arr(spec.volumes).map((v) => [obj(v).name, obj(obj(v).hostPath)]));
    const mounts = new Map(arr(container.volumeMounts).map((m) => [obj(m).name, obj(m)]));
    expect(volumes.get('bpffs')?.path).toBe('/sys/fs/bpf');
    expect(mounts.get('bpffs')).toMatchObject({
      mountPath: '/sys/fs/bpf',
      mountPropagation: 'Bidirectional',
    });
    expect(volumes.get('cgroup2')?.path).toBe('/sys/fs/cgroup');
    expect(mounts.get('cgroup2')?.mountPath).toBe('/host/sys/fs/cgroup');
    expect(volumes.get('state')?.path).toBe('/run/tsbpf');
    expect(mounts.get('state')?.mountPath).toBe('/run/tsbpf');
  });

  it('runs `tsbpf accel run` on the mounted cgroup root and pin dir, with arguments the CLI accepts', async () => {
    expect(container.command).toEqual(['tsbpf']);
    const args = arr(container.args).map(String);
    expect(args.slice(0, 2)).toEqual(['accel', 'run']);
    expect(args[args.indexOf('--cgroup') + 1]).toBe('/host/sys/fs/cgroup');
    expect(args[args.indexOf('--pin-dir') + 1]).toBe('/sys/fs/bpf/tsbpf');
    expect(await cliAccepts(args)).toEqual({ code: 0, err: '' });
  });
});

describe('deploy/tsbpf-accel.service', () => {
  const text = readFileSync('deploy/tsbpf-accel.service', 'utf8');
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header?.[1]) {
      current = new Map();
      sections.set(header[1], current);
      continue;
    }
    const eq = line.indexOf('=');
    if (!current || eq < 1) throw new Error(`unit line outside a section or without '=': ${line}`);
    current.set(line.slice(0, eq), line.slice(eq + 1));
  }
  const service = sections.get('Service');

  it('has Unit, Service and Install sections; stops with SIGTERM and restarts on failure', () => {
    expect([...sections.keys()]).toEqual(['Unit', 'Service', 'Install']);
    expect(service?.get('Type')).toBe('simple');
    expect(service?.get('KillSignal')).toBe('SIGTERM');
    expect(service?.get('Restart')).toBe('on-failure');
    expect(service?.get('CapabilityBoundingSet')?.split(' ')).toEqual(
      expect.arrayContaining(['CAP_BPF', 'CAP_NET_ADMIN', 'CAP_SYS_ADMIN']),
    );
    expect(sections.get('Install')?.get('WantedBy')).toBe('multi-user.target');
  });

  it('ExecStart runs `tsbpf accel run` with arguments the CLI accepts', async () => {
    const [bin, ...args] = (service?.get('ExecStart') ?? '').split(' ');
    expect(bin).toMatch(/\/tsbpf$/);
    expect(args.slice(0, 2)).toEqual(['accel', 'run']);
    expect(args).toContain('--cgroup');
    expect(await cliAccepts(args)).toEqual({ code: 0, err: '' });
  });
});

describe('deploy/Dockerfile', () => {
  const instructions = readFileSync('deploy/Dockerfile', 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((l) => {
      const m = /^([A-Z]+)\s+(.*)$/.exec(l);
      if (!m?.[1]) throw new Error(`not a Dockerfile instruction: ${l}`);
      return { op: m[1], arg: m[2] ?? '' };
    });
  const last = (op: string) => instructions.filter((i) => i.op === op).at(-1)?.arg ?? '';

  it('builds with Node >= 20 and installs the packed package, so the image runs what npm users run', () => {
    for (const from of instructions.filter((i) => i.op === 'FROM')) {
      expect(Number(/^node:(\d+)/.exec(from.arg)?.[1])).toBeGreaterThanOrEqual(20);
    }
    const runs = instructions.filter((i) => i.op === 'RUN').map((i) => i.arg);
    expect(runs.some((r) => r.includes('npm run build') && r.includes('npm pack'))).toBe(true);
    expect(runs.some((r) => /npm install -g \/tmp\/tsbpf\.tgz/.test(r))).toBe(true);
  });

  it('has the tsbpf bin as entrypoint and an `accel run` command the CLI accepts', async () => {
    expect(JSON.parse(last('ENTRYPOINT'))).toEqual(['tsbpf']);
    const cmd = JSON.parse(last('CMD')) as string[];
    expect(cmd.slice(0, 2)).toEqual(['accel', 'run']);
    expect(await cliAccepts(cmd)).toEqual({ code: 0, err: '' });
  });
});
