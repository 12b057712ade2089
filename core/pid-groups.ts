export type Role = 'sut' | 'injector' | 'other';
export interface GroupRef {
  readonly group: string;
  readonly role: Role;
}
export interface PidGroups {
  groupOf(pid: number): GroupRef | undefined;
}
