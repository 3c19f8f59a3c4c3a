#!/bin/bash
# xfail: FIONREAD misses redirected bytes on this kernel (no "bpf, sockmap: Fix FIONREAD for sockmap", in 6.12.75 and later; Debian's 6.1.192 lacks it)
# xfail-unless: FIONREAD counts redirected bytes
# The fionread case of tests/integ/py/semantics.py: ioctl(FIONREAD) must
# count 1000 redirected bytes as it counts 1000 TCP bytes.  Kernels that
# count them (the feature probe sees it) must pass; the others hit the gap.
source "$(dirname "$0")/lib.sh"
semantics_xfail fionread
