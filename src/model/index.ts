/**
 * The reference model of socket acceleration: what the sock_ops and sk_msg programs must do, in
 * plain TypeScript, with no dependency on the DSL, the bytecode or the kernel. Property tests run
 * the built programs in the interpreter and compare every stored and looked-up key with this model
 * byte for byte; it is the executable form of sockmap-reference.md §2.
 */
export * from './address.js';
export * from './connection.js';
export * from './decide.js';
export * from './maps.js';
export * from './options.js';
export * from './sock-key.js';
export * from './world.js';
