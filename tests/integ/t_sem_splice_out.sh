#!/bin/bash
# xfail: splice() from a socket reads only sk_receive_queue, never the psock queue: redirected data is invisible (tcp_splice_read)
# The splice_out case of tests/integ/py/semantics.py: it passes over plain TCP in
# the same run; over shunt it hits the kernel limitation named above (exit 66).
source "$(dirname "$0")/lib.sh"
semantics_xfail splice_out
