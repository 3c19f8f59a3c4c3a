#!/bin/bash
# TCP semantics applications rely on, over the redirect path, each checked
# against plain TCP in the same run: epoll (level and edge triggered), poll,
# select, MSG_PEEK, SO_RCVLOWAT (shunt hands such a connection's
# receiving side to TCP), sendfile of 64 MiB, writev with 1000 iovecs,
# splice() into the socket, and a socket passed to another process with
# SCM_RIGHTS.  Known gaps, and FIONREAD (a gap on some kernels), have their
# own tests (t_sem_*).
source "$(dirname "$0")/lib.sh"
pair_setup
out=$(semantics epoll_lt epoll_et poll select peek rcvlowat sendfile writev splice_in scm_rights)
echo "$out" >&2
if echo "$out" | grep -v ' ok$'; then fail "a case that works on TCP fails over shunt"; fi
[ "$(counter connections_redirected)" -ge 9 ] || fail "the cases were not redirected"
[ "$(counter tcp_semantics)" -ge 1 ] || fail "SO_RCVLOWAT did not move the connection to TCP"
echo "semantics ok"
