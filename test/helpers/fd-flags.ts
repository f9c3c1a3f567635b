/**
 * Source text, for a child process's script, of a function `(fd) => boolean` telling whether the
 * child's descriptor is non-blocking: O_NONBLOCK (octal 04000) in /proc/self/fdinfo. Linux only.
 * The child must import readFileSync from node:fs.
 */
export const IS_NON_BLOCKING_SOURCE = `((fd) => (parseInt(/^flags:\\s*(\\d+)/m.exec(readFileSync('/proc/self/fdinfo/' + fd, 'utf8'))[1], 8) & 0o4000) !== 0)`;
