// Noticing that a streaming client has gone away while nothing is being written to it. A failed write tells
// at once, but an NDJSON stream has no comment line to probe with, and long stretches write nothing (prompt
// evaluation, thinking or marker text the output parser holds back). httplib (0.11) does not hand a route its
// socket, so the connection is found by its addresses among the process's descriptors, once per stream.
#pragma once

#include <string>

namespace locus::server {

// The descriptor of the accepted TCP connection whose peer is remote_addr:remote_port and whose local port is
// local_port, or -1. Linux: reads /proc/self/fd.
int find_connection_fd(const std::string& remote_addr, int remote_port, int local_port);

// True when the peer has closed or reset the connection (data the peer sent but we have not read, such as a
// pipelined request, does not count as closed).
bool peer_closed(int fd);

}  // namespace locus::server
