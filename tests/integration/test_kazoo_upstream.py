#!/usr/bin/python3
"""kazoo's own test suite (Debian's python3-kazoo ships it in kazoo/tests) run against our
server: the recipes (locks, semaphores, barriers, counters, elections, parties, queues,
leases, partitioners, data/children watchers, tree cache) and the client tests exercise
the protocol the way real applications do.

kazoo's harness (kazoo.testing.harness) starts its own ZooKeeper ensemble; here its
get_global_cluster() is replaced by one that names a single already-running server. The
suite imports pytest and mock, which Debian's python3 here may lack: small stand-ins
(pytest.raises/skip, mock = unittest.mock) are installed when they are missing. Tests that
need an ensemble (stopping members, reconfig, read-only mode) are left out; a test that
stops a cluster member is skipped.
"""
import importlib
import os
import sys
import types
import unittest
import unittest.mock

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import zkserver  # noqa: E402
import zktest  # noqa: E402

# The superuser kazoo's harness configures (password "test").
SUPER_DIGEST = "super:D/InIHSb7yEEbrWz8b9l71RjZJU="

# module -> test classes to run (everything in them, minus EXCLUDE).
SUITE = {
    "test_client": ["TestClientTransitions", "TestAuthentication", "TestConnection", "TestClient",
                    "TestClientTransactions", "TestCallbacks", "TestNonChrootClient"],
    "test_lock": ["KazooLockTests", "TestSemaphore"],
    "test_barrier": ["KazooBarrierTests", "KazooDoubleBarrierTests"],
    "test_counter": ["KazooCounterTests"],
    "test_election": ["KazooElectionTests"],
    "test_party": ["KazooPartyTests", "KazooShallowPartyTests"],
    "test_queue": ["KazooQueueTests", "KazooLockingQueueTests"],
    "test_watchers": ["KazooDataWatcherTests", "KazooChildrenWatcherTests"],
    "test_cache": ["KazooTreeCacheTests"],
    "test_lease": ["NonBlockingLeaseTests", "MultiNonBlockingLeaseTest"],
    "test_partitioner": ["KazooPartitionerTests"],
}

# Tests that depend on the harness's ensemble or on timing of a multi-server cluster, not on
# the server's protocol.
EXCLUDE = {
    "test_client.TestConnection.test_connection_write_timeout",
    "test_client.TestClient.test_reconfig",
}


def install_stand_ins():
    try:
        import pytest  # noqa: F401
    except ImportError:
        pytest = types.ModuleType("pytest")

        class _Raises:
            def __init__(self, exc, match=None):
                self.exc = exc
                self.match = match
                self.value = None

            def __enter__(self):
                return self

            def __exit__(self, et, ev, tb):
                if et is None:
                    raise AssertionError("DID NOT RAISE %r" % (self.exc,))
                if not issubclass(et, self.exc):
                    return False
                self.value = ev
                if self.match is not None:
                    import re
                    if not re.search(self.match, str(ev)):
                        raise AssertionError("%r does not match %r" % (str(ev), self.match))
                return True

        def raises(exc, *args, **kw):
            if args:
                with _Raises(exc):
                    args[0](*args[1:], **kw)
                return None
            return _Raises(exc, kw.get("match"))

        def skip(reason=""):
            raise unittest.SkipTest(reason)

        pytest.raises = raises
        pytest.skip = skip
        sys.modules["pytest"] = pytest
    try:
        import mock  # noqa: F401
    except ImportError:
        sys.modules["mock"] = unittest.mock
    try:
        import objgraph  # noqa: F401
    except ImportError:
        import gc
        objgraph = types.ModuleType("objgraph")

        def count(typename):
            gc.collect()
            return sum(1 for o in gc.get_objects() if type(o).__name__ == typename)
        objgraph.count = count
        sys.modules["objgraph"] = objgraph


class _Member:
    def __init__(self, address):
        self.address = address
        self.running = True

    def stop(self):
        raise unittest.SkipTest("needs a cluster member it can stop")

    def run(self):
        raise unittest.SkipTest("needs a cluster member it can stop")


class _Cluster(list):
    """What kazoo's harness expects of its ZookeeperCluster, for one external server."""

    def start(self):
        pass

    def stop(self):
        pass

    def terminate(self):
        pass


class _ServerSuite(unittest.TestSuite):
    """Points kazoo's harness at one server while its tests run."""

    def __init__(self, hostport, tests=()):
        super().__init__(tests)
        self.cluster = _Cluster([_Member(hostport)])

    def run(self, result, debug=False):
        import kazoo.testing.harness as harness
        saved = harness.get_global_cluster
        harness.get_global_cluster = lambda: self.cluster
        try:
            return super().run(result, debug)
        finally:
            harness.get_global_cluster = saved


def build_suite(hostport):
    install_stand_ins()
    loader = unittest.TestLoader()
    suite = _ServerSuite(hostport)
    for modname, classes in SUITE.items():
        mod = importlib.import_module("kazoo.tests." + modname)
        for cname in classes:
            cls = getattr(mod, cname)
            for name in loader.getTestCaseNames(cls):
                if "%s.%s.%s" % (modname, cname, name) not in EXCLUDE:
                    suite.addTest(cls(name))
    return suite


def load_tests(loader, tests, pattern):
    suite = unittest.TestSuite()
    for kind in zkserver.selected_kinds():
        server = zkserver.shared_server(kind, extra={"DigestAuthenticationProvider.superDigest": SUPER_DIGEST})
        suite.addTest(build_suite(server.hostport))
    return suite


if __name__ == "__main__":
    zktest.main()
