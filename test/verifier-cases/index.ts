/** Every broken DSL program of test/verifier-cases, by file name. */

import type { VerifierCase } from './case.js';
import ctxAfterCall from './ctx-after-call.js';
import ctxBeyondEnd from './ctx-beyond-end.js';
import ctxReadOnly from './ctx-read-only.js';
import ctxWidth from './ctx-width.js';
import helperWrongType from './helper-wrong-type.js';
import infiniteLoop from './infinite-loop.js';
import misalignedStack from './misaligned-stack.js';
import noReturnValue from './no-return-value.js';
import nullInLoop from './null-in-loop.js';
import nullMapValue from './null-map-value.js';
import nullValueToHelper from './null-value-to-helper.js';
import returnOutOfRange from './return-out-of-range.js';
import ringbufLeak from './ringbuf-leak.js';
import scalarAsPointer from './scalar-as-pointer.js';
import skMsgWrite from './sk-msg-write.js';
import stackAboveFrame from './stack-above-frame.js';
import tooManyIterations from './too-many-iterations.js';
import uninitKey from './uninit-key.js';
import uninitStackRead from './uninit-stack-read.js';

/** The cases, keyed by their module's file name without extension. */
export const VERIFIER_CASES: Readonly<Record<string, VerifierCase>> = {
  'ctx-after-call': ctxAfterCall,
  'ctx-beyond-end': ctxBeyondEnd,
  'ctx-read-only': ctxReadOnly,
  'ctx-width': ctxWidth,
  'helper-wrong-type': helperWrongType,
  'infinite-loop': infiniteLoop,
  'misaligned-stack': misalignedStack,
  'no-return-value': noReturnValue,
  'null-in-loop': nullInLoop,
  'null-map-value': nullMapValue,
  'null-value-to-helper': nullValueToHelper,
  'return-out-of-range': returnOutOfRange,
  'ringbuf-leak': ringbufLeak,
  'scalar-as-pointer': scalarAsPointer,
  'sk-msg-write': skMsgWrite,
  'stack-above-frame': stackAboveFrame,
  'too-many-iterations': tooManyIterations,
  'uninit-key': uninitKey,
  'uninit-stack-read': uninitStackRead,
};
