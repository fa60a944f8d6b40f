/** Versions are ordered as signed 64-bit integers (golang-migrate's and goose's bigint). */
export const MAX_VERSION = 2n ** 63n - 1n;
