export { parseType, isValidType, type GType } from './type.js';
export { serialize } from './serialize.js';
export { parse, isNormalForm } from './parse.js';
export { printValue, parseText } from './text.js';
export { variant, dictGet, type GValue, type GVariantBox, type VarDict } from './value.js';
