/* cribd's client commands: talk to a running daemon over its socket. */
#ifndef CRIB_CLI_H
#define CRIB_CLI_H

/* `cribd load PATH [NAME]`: ask the daemon to load an image archive or layout; prints the
 * daemon's JSON answer. Returns the process exit code. */
int cli_load(const char *socket_path, const char *path, const char *name);

/* `cribd upgrade`: the running daemon's keeper stops it and starts the binaries now installed
 * (containers run on). Returns the process exit code. */
int cli_upgrade(const char *socket_path);

#endif
