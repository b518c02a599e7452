import { describe, expect, it } from 'vitest';
import { type CtxSchema, SK_MSG_CTX, SOCK_OPS_CTX } from '../../src/dsl/ctx.js';
import { type CtxKind, explainCtxAccess } from '../../src/loader/verifier/ctx-fields.js';

/**
 * The loader keeps its own small table of the sock_ops / sk_msg contexts (it may not import the
 * DSL). Both must tell the same story: every DSL field is found at its offset under its name, is
 * read with its width without a width complaint, and is writable in exactly the same cases.
 */
const UNION = ['reply', 'args', 'replylong'];

describe('ctx-fields agrees with the DSL ctx schemas', () => {
  const schemas: [CtxKind, CtxSchema][] = [
    ['sock_ops', SOCK_OPS_CTX],
    ['sk_msg', SK_MSG_CTX],
  ];
  for (const [kind, schema] of schemas) {
    it(`${kind}: same fields, widths and writability`, () => {
      for (const [name, field] of Object.entries(schema.fields)) {
        for (let i = 0; i < (field.count ?? 1); i++) {
          const offset = field.offset + i * field.size;
          const read = explainCtxAccess(kind, offset, field.size, false);
          expect(read.problem, `${name}[${i}] read`).not.toBe('width');
          expect(read.problem, `${name}[${i}] read`).not.toBe('beyond-end');
          // sock_ops has a union at 4..20 (reply | args[4] | replylong[4]): any member's name will
          // do, and offset 4 is writable whichever member names it (the kernel checks the offset).
          const union = kind === 'sock_ops' && UNION.includes(name);
          if (union) expect(UNION, `${name}[${i}]`).toContain(read.field?.name);
          else expect(read.field?.name, `${name}[${i}]`).toBe(name);
          const write = explainCtxAccess(kind, offset, field.size, true);
          if (field.access === 'rw') expect(write.problem, `${name} write`).not.toBe('read-only');
          else if (!(union && offset === 4)) {
            expect(write.problem, `${name} write`).toBe('read-only');
          }
        }
      }
      expect(explainCtxAccess(kind, schema.size, 4, false).problem).toBe('beyond-end');
    });
  }
});
