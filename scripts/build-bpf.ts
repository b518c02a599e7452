/**
 * `npm run build:bpf`: writes the socket acceleration objects with the default options
 * (dist/bpf/sockaccel.o) and the minimal variant (dist/bpf/sockaccel-minimal.o), each with its
 * listing (.lst: every instruction with the TypeScript line that produced it) beside it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSockops } from '../src/programs/build.js';
import type { SockopsOptions } from '../src/programs/options.js';

const outDir = process.argv[2] ?? 'dist/bpf';
const targets: [string, SockopsOptions][] = [
  ['sockaccel', {}],
  ['sockaccel-minimal', { variant: 'minimal' }],
];

mkdirSync(outDir, { recursive: true });
for (const [name, options] of targets) {
  const built = buildSockops(options);
  const object = join(outDir, `${name}.o`);
  writeFileSync(object, built.elf);
  writeFileSync(join(outDir, `${name}.lst`), built.listing);
  const p = built.programs;
  process.stdout.write(
    `${object}: ${built.elf.length} bytes; ${p.sockops.name} ${p.sockops.insns} insns, ${p.skMsg.name} ${p.skMsg.insns} insns; maps ${built.maps.map((m) => m.name).join(', ')}\n`,
  );
}
