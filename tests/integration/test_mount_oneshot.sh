#!/usr/bin/env bash
# The mount suite again with one-shot watches per node (-o watches=oneshot), the mode the mount
# falls back to on servers without persistent recursive watches (ZooKeeper before 3.6):
# caching, invalidation and inotify must hold there too. Against zkfsd (the suite's own
# run covers Apache ZooKeeper).
cd "$(dirname "$0")/../.."
ZKFS_MOUNT_OPTS=watches=oneshot ZKFS_SERVER=zkfsd exec /usr/bin/python3 tests/integration/test_mount.py
