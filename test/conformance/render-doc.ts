/**
 * Writes docs/conformance.md from a saved suite report:
 *   npx tsx test/conformance/render-doc.ts /tmp/tsbpf-conformance-PID.json
 * (the suite saves that JSON after every run; with TSBPF_CONFORMANCE_DOC=1 it writes the doc itself).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ConformanceReport, renderConformanceDoc } from './report.js';

const input = process.argv[2];
if (!input) {
  process.stderr.write('usage: tsx test/conformance/render-doc.ts REPORT.json\n');
  process.exit(2);
}
const report = JSON.parse(readFileSync(input, 'utf8')) as ConformanceReport;
writeFileSync(join(import.meta.dirname, '../../docs/conformance.md'), renderConformanceDoc(report));
