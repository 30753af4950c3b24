/** The RPM package codec: lead, headers, metadata, payload, digests and signatures. */
export * from './tags.js';
export * from './header.js';
export * from './lead.js';
export * from './read.js';
export * from './richdep.js';
export * from './metadata.js';
export * from './verify.js';
export * from './signature.js';
export * from './payload.js';
