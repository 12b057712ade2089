// The host collector's public surface (loaded by the CLI on demand).
export { HostCollector } from './collector.js';
export type { HostOptions } from './collector.js';
export { parseGroupFlag, parseHostConfig, matches, ROLES } from './groups.js';
export type { GroupSpec, Role, HostFileOptions } from './groups.js';
