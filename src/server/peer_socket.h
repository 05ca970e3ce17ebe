// Noticing that a client has gone away while nothing is being written to it. A failed write tells at once, but
// an NDJSON stream has no comment line to probe with, and long stretches write nothing (prompt evaluation,
// thinking or marker text the output parser holds back, a non-streamed answer being made).
#pragma once

namespace locus::server {

// True when the peer has closed or reset the connection (data the peer sent but we have not read, such as a
// pipelined request, does not count as closed).
bool peer_closed(int fd);

}  // namespace locus::server
