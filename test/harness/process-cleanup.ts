/** Leak checks for tests: is anything of a process group still running? */
import {execFileSync} from 'node:child_process';
import {processGroupMembers} from '../../local/process-group';

/** Members of the group that are still running (zombies excluded), from /proc. */
export function livingMembers(pgid: number): number[] {
  return (processGroupMembers(pgid) ?? [])
    .filter(member => member.state !== 'Z')
    .map(member => member.pid);
}

/** Command lines of running processes matching `pattern`, as `ps` shows them. */
export function runningCommands(pattern: RegExp): string[] {
  const ps = execFileSync('ps', ['-eo', 'pid=,stat=,args='], {
    encoding: 'utf8',
  });
  return ps
    .split('\n')
    .filter(line => pattern.test(line))
    .filter(line => !/^\s*\d+\s+Z/.test(line));
}
