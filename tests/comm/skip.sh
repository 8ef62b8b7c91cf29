#!/bin/sh
# A multi-rank test that cannot run on this host: say why, exit with CTest's skip code.
echo "skipped: $1"
exit 77
