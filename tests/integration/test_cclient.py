#!/usr/bin/python3
"""Apache ZooKeeper's C client (libzookeeper_mt, sync API) against a server: runs each
scenario of tests/integration/zkc_scenario.c ($BUILD/tests/zkc_scenario) and compares its
output, line by line, with what ZooKeeper 3.8 answers (the expected lines below were
checked against the Apache server: ZKFS_SERVER=apache). Paths are printed relative to the
scenario's root ("R/...").
"""
import base64
import difflib
import hashlib
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import zkserver  # noqa: E402
import zktest  # noqa: E402

DIGEST = "user:" + base64.b64encode(hashlib.sha1(b"user:pw").digest()).decode()

EXPECTED = {
    "crud": """
create ZOK R/a
create_again ZNODEEXISTS
create_no_parent ZNONODE
get ZOK data=hello version=0 dataLength=5 numChildren=0
set ZOK version=1
set_stale ZBADVERSION
get_after_set ZOK data=world version=1 dataLength=5 numChildren=0
get_missing ZNONODE
create2 ZOK R/a/c1 czxid_eq_mzxid=1 version=0
delete_not_empty ZNOTEMPTY
delete_bad_version ZBADVERSION
delete ZOK
exists_deleted ZNONODE
create_seq ZOK R/a/s-0000000001
create_seq ZOK R/a/s-0000000002
create_seq ZOK R/a/s-0000000003
children ZOK children=s-0000000001,s-0000000002,s-0000000003 numChildren=3 cversion=5
create_ephemeral ZOK R/e
create_under_ephemeral ZNOCHILDRENFOREPHEMERALS
create_ephemeral_seq ZOK R/es-0000000002
exists_ephemeral ZOK owner_is_self=1
create_relative ZBADARGUMENTS
create_ctrl_char ZBADARGUMENTS
create_dot ZBADARGUMENTS
create_big ZOK R/big
big ZOK ZOK len=500000 same=1
zookeeper_children ZOK children=config,quota numChildren=2 cversion=-2
done
""",
    "watch": """
wexists_missing ZNONODE
other_create ZOK R/w
event_created CREATED R/w
wget ZOK
other_set ZOK
event_changed CHANGED R/w
other_set_again ZOK
wget_children2 ZOK
other_create_child ZOK R/w2
event_child CHILD R
wexists ZOK
other_delete ZOK
event_deleted DELETED R/w
wexists_barrier ZNONODE
other_create_barrier ZOK R/barrier
event_barrier CREATED R/barrier
done
""",
    "multi": """
multi_ok ZOK
multi_ok_result 0 ZOK
multi_ok_result 1 ZOK
multi_ok_result 2 ZOK
multi_ok_result 3 ZOK
multi_ok_result 4 ZOK
multi_ok_paths R/m1 R/m1/c version=1
get_m1 ZOK data=y version=1 dataLength=1 numChildren=0
children_m1 ZOK children= numChildren=0 cversion=2
multi_fail ZBADVERSION
multi_fail_result 0 ZOK
multi_fail_result 1 ZBADVERSION
multi_fail_result 2 ZRUNTIMEINCONSISTENCY
exists_m2 ZNONODE
exists_m3 ZNONODE
multi_double_delete ZNONODE
multi_double_delete_result 0 ZOK
multi_double_delete_result 1 ZNONODE
done
""",
    "acl": """
add_auth ZOK
create_creator_all ZOK R/priv
anon_get ZNOAUTH
anon_set ZNOAUTH
anon_create_child ZNOAUTH
user_get ZOK data=secret version=0 dataLength=6 numChildren=0
user_get_acl ZOK count=1 aversion=0
user_get_acl_entry 31 digest %s
anon_get_acl ZNOAUTH
create_read_only ZOK R/ro
ro_get ZOK data=v version=0 dataLength=1 numChildren=0
ro_set ZNOAUTH
anon_creator_all ZINVALIDACL
set_acl ZOK
set_acl_stale ZBADVERSION
anon_get_after_set_acl ZOK data=secret version=0 dataLength=6 numChildren=0
anon_get_acl_after ZOK count=1 aversion=1
anon_get_acl_after_entry 31 world anyone
add_auth_unknown_scheme ZAUTHFAILED
bad_state AUTH_FAILED
done
""" % DIGEST,
    "session": """
child_session_made 1
resume CONNECTED same_session=1
resumed_exists ZOK owner_is_session=1
resumed_create_ephemeral ZOK R/eph2
after_close_eph ZNONODE
after_close_eph2 ZNONODE
resume_closed EXPIRED_SESSION
resume_bogus EXPIRED_SESSION
bogus_get ZINVALIDSTATE
done
""",
}


def scenario_binary():
    return os.path.join(zkserver.build_dir(), "tests", "zkc_scenario")


@zktest.per_kind
class CClient(zktest.ServerTest):
    def run_scenario(self, name):
        exe = scenario_binary()
        if not os.access(exe, os.X_OK):
            self.fail("%s is not built (run: make %s)" % (exe, os.path.relpath(exe, zkserver.REPO)))
        # Its own process group: the session scenario forks, and a hang must take both down.
        proc = subprocess.Popen([exe, self.hostport, name, self.root], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            stdout, stderr = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
            self.fail("zkc_scenario %s hung; output so far:\n%s" % (name, stdout))
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        r = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
        want = EXPECTED[name].strip().splitlines()
        got = r.stdout.strip().splitlines()
        if got != want or r.returncode != 0:
            diff = "\n".join(difflib.unified_diff(want, got, "expected (ZooKeeper 3.8)", "zkc_scenario output",
                                                  lineterm=""))
            self.fail("scenario %s: exit status %d, output differs:\n%s\nstderr tail:\n%s"
                      % (name, r.returncode, diff, "\n".join(r.stderr.splitlines()[-15:])))

    def test_crud(self):
        self.run_scenario("crud")

    def test_watch(self):
        self.run_scenario("watch")

    def test_multi(self):
        self.run_scenario("multi")

    def test_acl(self):
        self.run_scenario("acl")

    def test_session(self):
        self.run_scenario("session")


if __name__ == "__main__":
    zktest.main()
