/** Package database writers: the rpmdb (rpm 4.18 sqlite), the dpkg admin directory, and the tmpfiles.d link to them. */
export * from './rpmdb.js';
export * from './dpkg.js';
export * from './tmpfiles.js';
