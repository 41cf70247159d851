/* ZooKeeper's protocol constants: error codes, opcodes, special xids, event types,
 * states, permissions and create modes, with ZooKeeper's own names and values so that
 * code reads like the Java server it must match (KeeperException.Code, ZooDefs). */
#ifndef ZKFS_ZERR_H
#define ZKFS_ZERR_H

#include <stdint.h>

enum zk_err {
    ZOK = 0,
    ZSYSTEMERROR = -1,
    ZRUNTIMEINCONSISTENCY = -2,
    ZDATAINCONSISTENCY = -3,
    ZCONNECTIONLOSS = -4,
    ZMARSHALLINGERROR = -5,
    ZUNIMPLEMENTED = -6,
    ZOPERATIONTIMEOUT = -7,
    ZBADARGUMENTS = -8,
    ZNEWCONFIGNOQUORUM = -13,
    ZRECONFIGINPROGRESS = -14,
    ZUNKNOWNSESSION = -12,
    ZAPIERROR = -100,
    ZNONODE = -101,
    ZNOAUTH = -102,
    ZBADVERSION = -103,
    ZNOCHILDRENFOREPHEMERALS = -108,
    ZNODEEXISTS = -110,
    ZNOTEMPTY = -111,
    ZSESSIONEXPIRED = -112,
    ZINVALIDCALLBACK = -113,
    ZINVALIDACL = -114,
    ZAUTHFAILED = -115,
    ZCLOSING = -116,
    ZNOTHING = -117,
    ZSESSIONMOVED = -118,
    ZNOTREADONLY = -119,
    ZEPHEMERALONLOCALSESSION = -120,
    ZNOWATCHER = -121,
    ZRECONFIGDISABLED = -123,
    ZSESSIONCLOSEDREQUIRESASLAUTH = -124,
    ZQUOTAEXCEEDED = -125,
    ZTHROTTLEDOP = -127,
};

/* Returns ZooKeeper's name for an error code ("NONODE"), or "UNKNOWN". Never NULL. */
const char *zerr_name(int err);

enum zk_op {
    ZOP_NOTIFY = 0,
    ZOP_CREATE = 1,
    ZOP_DELETE = 2,
    ZOP_EXISTS = 3,
    ZOP_GETDATA = 4,
    ZOP_SETDATA = 5,
    ZOP_GETACL = 6,
    ZOP_SETACL = 7,
    ZOP_GETCHILDREN = 8,
    ZOP_SYNC = 9,
    ZOP_PING = 11,
    ZOP_GETCHILDREN2 = 12,
    ZOP_CHECK = 13,
    ZOP_MULTI = 14,
    ZOP_CREATE2 = 15,
    ZOP_RECONFIG = 16,
    ZOP_CHECKWATCHES = 17,
    ZOP_REMOVEWATCHES = 18,
    ZOP_CREATECONTAINER = 19,
    ZOP_DELETECONTAINER = 20,
    ZOP_CREATETTL = 21,
    ZOP_MULTIREAD = 22,
    ZOP_AUTH = 100,
    ZOP_SETWATCHES = 101,
    ZOP_SASL = 102,
    ZOP_GETEPHEMERALS = 103,
    ZOP_GETALLCHILDRENNUMBER = 104,
    ZOP_SETWATCHES2 = 105,
    ZOP_ADDWATCH = 106,
    ZOP_WHOAMI = 107,
    ZOP_CREATESESSION = -10,
    ZOP_CLOSESESSION = -11,
    ZOP_ERROR = -1,
};

/* Returns the opcode's name ("create"), or "unknown". Never NULL. */
const char *zop_name(int op);

/* Special xids. */
#define ZXID_WATCH_EVENT (-1)
#define ZXID_PING (-2)
#define ZXID_AUTH (-4)
#define ZXID_SET_WATCHES (-8)

/* Watcher event types (Watcher.Event.EventType). */
enum zk_event {
    ZEV_NONE = -1,
    ZEV_CREATED = 1,
    ZEV_DELETED = 2,
    ZEV_CHANGED = 3,
    ZEV_CHILD = 4,
    ZEV_DATA_WATCH_REMOVED = 5,
    ZEV_CHILD_WATCH_REMOVED = 6,
    ZEV_PERSISTENT_WATCH_REMOVED = 7,
};

/* Keeper states carried in WatcherEvent.state. */
enum zk_state {
    ZSTATE_DISCONNECTED = 0,
    ZSTATE_SYNC_CONNECTED = 3,
    ZSTATE_AUTH_FAILED = 4,
    ZSTATE_CONNECTED_READONLY = 5,
    ZSTATE_SASL_AUTHENTICATED = 6,
    ZSTATE_EXPIRED = -112,
    ZSTATE_CLOSED = 7,
};

/* ACL permission bits (ZooDefs.Perms). */
#define ZPERM_READ (1 << 0)
#define ZPERM_WRITE (1 << 1)
#define ZPERM_CREATE (1 << 2)
#define ZPERM_DELETE (1 << 3)
#define ZPERM_ADMIN (1 << 4)
#define ZPERM_ALL 0x1f

/* Create mode flags (CreateMode.toFlag). */
enum zk_create_mode {
    ZMODE_PERSISTENT = 0,
    ZMODE_EPHEMERAL = 1,
    ZMODE_PERSISTENT_SEQUENTIAL = 2,
    ZMODE_EPHEMERAL_SEQUENTIAL = 3,
    ZMODE_CONTAINER = 4,
    ZMODE_PERSISTENT_WITH_TTL = 5,
    ZMODE_PERSISTENT_SEQUENTIAL_WITH_TTL = 6,
};

/* WatcherType for checkWatches/removeWatches, and AddWatchMode. */
enum zk_watcher_type {
    ZWT_CHILDREN = 1,
    ZWT_DATA = 2,
    ZWT_ANY = 3,
    ZWT_PERSISTENT = 4,
    ZWT_PERSISTENT_RECURSIVE = 5,
};
#define ZADDWATCH_PERSISTENT 0
#define ZADDWATCH_PERSISTENT_RECURSIVE 1

/* Defaults shared by server and clients. */
#define ZK_DEFAULT_MAXBUFFER 1048575 /* jute.maxbuffer: largest packet or znode datum */
#define ZK_PASSWD_LEN 16

#endif
